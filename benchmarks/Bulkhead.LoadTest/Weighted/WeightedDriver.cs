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
        using HttpClient http = LoadDriver.CreateClient(server.Address);
        await LoadDriver.WarmUpAsync(http, ReportPath, cancellationToken);
        LoadDriver.Interactive baseline = await LoadDriver.MeasureInteractiveAsync(http, options, cancellationToken);

        await using Flood flood = await Flood.StartAsync(http, ReportPath, options, cancellationToken);
        await Task.Delay(options.Settle, cancellationToken);
        (LoadDriver.Interactive flooded, double reportsPerSecond) = await LoadDriver.MeasureUnderFloodAsync(http, flood, options, cancellationToken);
        return new WeightedResult(mode, repetition, baseline.Ms(99), flooded.Ms(99), reportsPerSecond);
    }
}
