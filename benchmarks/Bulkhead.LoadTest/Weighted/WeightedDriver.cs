using Bulkhead.LoadTest.Client;

namespace Bulkhead.LoadTest.Weighted;

/// <summary>One mode's run: the interactive endpoint alone (the baseline), then under the report flood.</summary>
public sealed record WeightedResult(Mode Mode, int Repetition, double BaselineP99, double P99, double ReportsPerSecond);

internal static class WeightedDriver
{
    public const string ReportPath = "/weighted-report";

    public static async Task<WeightedResult> RunAsync(Mode mode, int repetition, LoadTestOptions options, CancellationToken cancellationToken)
    {
        await using ServerProcess server = await ServerProcess.StartAsync(mode, cancellationToken);
        (double baselineP99, double p99, double reportsPerSecond) = await LoadDriver.MeasureBaselineThenFloodAsync(server.Address, ReportPath, options, cancellationToken);
        return new WeightedResult(mode, repetition, baselineP99, p99, reportsPerSecond);
    }
}
