namespace Bulkhead.LoadTest.SharedDownstream;

internal static class SharedDownstreamDriver
{
    public const string ReportPath = "/downstream-report";
}
