using Bulkhead.LoadTest.Client;

namespace Bulkhead.LoadTest.SharedDownstream;

/// <summary>One mode's run: the interactive endpoint alone (the baseline), then under the report flood.</summary>
public sealed record SharedDownstreamResult(Mode Mode, int Repetition, double BaselineP99, double P99, double ReportsPerSecond);

internal static class SharedDownstreamDriver
{
    public const string ReportPath = "/downstream-report";

    public static async Task<SharedDownstreamResult> RunAsync(Mode mode, int repetition, LoadTestOptions options, CancellationToken cancellationToken)
    {
        // The dependency first, in a process of its own; the front server calls it over loopback.
        await using ServerProcess dependency = await ServerProcess.StartAsync(Mode.DownstreamService, cancellationToken);
        await using ServerProcess server = await ServerProcess.StartAsync(mode, cancellationToken, "--dependency", dependency.Address.ToString());
        (double baselineP99, double p99, double reportsPerSecond) = await LoadDriver.MeasureBaselineThenFloodAsync(server.Address, ReportPath, options, cancellationToken);
        return new SharedDownstreamResult(mode, repetition, baselineP99, p99, reportsPerSecond);
    }
}
