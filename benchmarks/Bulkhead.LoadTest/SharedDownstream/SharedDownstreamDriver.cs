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
        using HttpClient http = LoadDriver.CreateClient(server.Address);
        await LoadDriver.WarmUpAsync(http, ReportPath, cancellationToken);
        LoadDriver.Interactive baseline = await LoadDriver.MeasureInteractiveAsync(http, options, cancellationToken);

        await using Flood flood = await Flood.StartAsync(http, ReportPath, options, cancellationToken);
        await Task.Delay(options.Settle, cancellationToken);
        (LoadDriver.Interactive flooded, double reportsPerSecond) = await LoadDriver.MeasureUnderFloodAsync(http, flood, options, cancellationToken);
        return new SharedDownstreamResult(mode, repetition, baseline.Ms(99), flooded.Ms(99), reportsPerSecond);
    }
}
