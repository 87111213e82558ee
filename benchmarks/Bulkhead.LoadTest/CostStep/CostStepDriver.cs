using System.Globalization;
using System.Text.Json;
using Bulkhead.LoadTest.Client;

namespace Bulkhead.LoadTest.CostStep;

/// <summary>One mode's run of the cost step: the baseline, then the light half and the heavy half under the flood.</summary>
public sealed record CostStepResult(Mode Mode, int Repetition, double BaselineP99, double LightP99, double HeavyP99,
    double LightReportsPerSecond, double HeavyReportsPerSecond, int LightLimit, int HeavyLimit, double TransitionP99,
    double? LightSeatTimeP99, double? HeavySeatTimeP99, int ReportThreads, double? LightPoolDelayP99, double? HeavyPoolDelayP99);

/// <summary>
/// Drives one run: interactive requests alone (the baseline), then a report flood whose cost doubles halfway. Each half
/// runs <see cref="LoadTestOptions.Settle"/> before it is measured, the same for every mode; the p99 of the heavy half's
/// settling seconds is reported apart (what a change of cost costs before limits catch up).
/// </summary>
internal static class CostStepDriver
{
    public static async Task<CostStepResult> RunAsync(Mode mode, int repetition, LoadTestOptions options, CancellationToken cancellationToken)
    {
        string[] settings =
        [
            "--report-limit", (mode == Mode.StaticTunedHeavy ? options.HeavyLimit : options.LightLimit).ToString(CultureInfo.InvariantCulture),
            "--seat-objective-ms", options.SeatObjectiveMs.ToString("R", CultureInfo.InvariantCulture),
            "--pool-objective-ms", options.PoolObjectiveMs.ToString("R", CultureInfo.InvariantCulture),
            "--headroom", options.Headroom.ToString("R", CultureInfo.InvariantCulture),
            "--report-await-ms", options.ReportAwaitMs.ToString(CultureInfo.InvariantCulture),
            "--report-cpu-ms", options.ReportCpuMs.ToString("R", CultureInfo.InvariantCulture),
            .. (options.CostStepDownstream ? (string[])["--downstream"] : []),
            "--threads", options.CostStepThreads.ToString(CultureInfo.InvariantCulture),
        ];
        await using ServerProcess server = await ServerProcess.StartAsync(mode, cancellationToken, settings);
        using HttpClient http = LoadDriver.CreateClient(server.Address);
        await LoadDriver.WarmUpAsync(http, "/cost-report", cancellationToken);
        LoadDriver.Interactive baseline = await LoadDriver.MeasureInteractiveAsync(http, options, cancellationToken);

        await SetCostAsync(http, 1, cancellationToken);
        await using Flood flood = await Flood.StartAsync(http, "/cost-report", options, cancellationToken);
        await SettleAsync(http, options, cancellationToken);
        (LoadDriver.Interactive light, double lightReports) = await LoadDriver.MeasureUnderFloodAsync(http, flood, options, cancellationToken);
        (int lightLimit, double? lightSeat, _, double? lightPool) = await ReadSnapshotAsync(http, cancellationToken);

        await SetCostAsync(http, 2, cancellationToken);
        LoadDriver.Interactive transition = await LoadDriver.MeasureInteractiveAsync(http, options with { Duration = options.Settle }, cancellationToken);
        (LoadDriver.Interactive heavy, double heavyReports) = await LoadDriver.MeasureUnderFloodAsync(http, flood, options, cancellationToken);
        (int heavyLimit, double? heavySeat, int reportThreads, double? heavyPool) = await ReadSnapshotAsync(http, cancellationToken);

        return new CostStepResult(mode, repetition, baseline.Ms(99), light.Ms(99), heavy.Ms(99), lightReports, heavyReports, lightLimit, heavyLimit, transition.Ms(99), lightSeat, heavySeat, reportThreads, lightPool, heavyPool);
    }

    /// <summary>
    /// The light half's settling time. With the cost in a downstream or reports on their own threads, interactive traffic
    /// goes on meanwhile (unmeasured), as it does in a real service: the interactive seat-time objective has nothing to
    /// measure without it.
    /// </summary>
    private static async Task SettleAsync(HttpClient http, LoadTestOptions options, CancellationToken cancellationToken)
    {
        if (options.CostStepDownstream || options.CostStepThreads > 0)
        {
            await LoadDriver.MeasureInteractiveAsync(http, options with { Duration = options.Settle }, cancellationToken);
        }
        else
        {
            await Task.Delay(options.Settle, cancellationToken);
        }
    }

    private static async Task SetCostAsync(HttpClient http, double factor, CancellationToken cancellationToken)
    {
        using HttpResponseMessage response = await http.PostAsync(new Uri(string.Create(CultureInfo.InvariantCulture, $"/cost/{factor}"), UriKind.Relative), null, cancellationToken);
        response.EnsureSuccessStatusCode();
    }

    /// <summary>
    /// The reporting class's limit in force, the interactive seat-time p99 and the ThreadPool delay p99 the controller
    /// last measured (adaptive modes with those objectives) and the dedicated threads reports run on (0: the ThreadPool),
    /// from the diagnostics endpoint.
    /// </summary>
    private static async Task<(int Limit, double? SeatTimeP99, int ReportThreads, double? PoolDelayP99)> ReadSnapshotAsync(HttpClient http, CancellationToken cancellationToken)
    {
        using JsonDocument snapshot = JsonDocument.Parse(await http.GetStringAsync(new Uri("/_bulkhead/snapshot", UriKind.Relative), cancellationToken));
        JsonElement[] classes = [.. snapshot.RootElement.GetProperty("classes").EnumerateArray()];
        JsonElement reporting = classes.Single(c => c.GetProperty("name").GetString() == "reporting");
        int limit = reporting.GetProperty("maxConcurrency").GetInt32();
        int threads = reporting.GetProperty("dedicatedThreads").GetInt32();
        JsonElement seat = classes.Single(c => c.GetProperty("name").GetString() == "interactive").GetProperty("measuredSeatTimeP99");
        return (limit, Milliseconds(seat), threads, Milliseconds(snapshot.RootElement.GetProperty("measuredThreadPoolDelayP99")));

        static double? Milliseconds(JsonElement value) =>
            value.ValueKind == JsonValueKind.String ? TimeSpan.Parse(value.GetString()!, CultureInfo.InvariantCulture).TotalMilliseconds : null;
    }
}
