namespace Bulkhead.LoadTest.TwoServices;

internal static class TwoServicesDriver
{
    public const string ReportPath = "/two-services-report";
}
