using Bulkhead.LoadTest.Client;

namespace Bulkhead.LoadTest.TwoServices;

/// <summary>One mode's run: the front service's interactive endpoint alone (the baseline), then under the report flood.</summary>
public sealed record TwoServicesResult(Mode Mode, int Repetition, double BaselineP99, double P99, double ReportsPerSecond);

internal static class TwoServicesDriver
{
    public const string ReportPath = "/two-services-report";

    public static async Task<TwoServicesResult> RunAsync(Mode mode, int repetition, LoadTestOptions options, CancellationToken cancellationToken)
    {
        // The back service first, in a process of its own; the front service calls it over loopback.
        await using ServerProcess back = await ServerProcess.StartAsync(Mode.BackService, cancellationToken);
        await using ServerProcess front = await ServerProcess.StartAsync(mode, cancellationToken, "--dependency", back.Address.ToString());
        (double baselineP99, double p99, double reportsPerSecond) = await LoadDriver.MeasureBaselineThenFloodAsync(front.Address, ReportPath, options, cancellationToken);
        return new TwoServicesResult(mode, repetition, baselineP99, p99, reportsPerSecond);
    }
}
