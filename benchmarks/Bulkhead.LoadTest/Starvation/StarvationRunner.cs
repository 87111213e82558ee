using System.Globalization;
using System.Text;
using Bulkhead.LoadTest.Client;
using Bulkhead.LoadTest.Reporting;
using Spectre.Console;

namespace Bulkhead.LoadTest.Starvation;

/// <summary>One run of one mode: the interactive endpoint's latency against its baseline while blocking reports flood.</summary>
public sealed record StarvationResult(Mode Mode, int Repetition, double BaselineP99, double P50, double P99, double ReportsPerSecond, long InteractiveErrors);

/// <summary>
/// ThreadPool starvation: the headline's interactive endpoint while closed-loop clients call a report endpoint that
/// blocks its thread (sync over async), each mode right after its own baseline.
/// </summary>
public static class StarvationRunner
{
    public static Task<IReadOnlyList<StarvationResult>> RunAsync(LoadTestOptions options, IAnsiConsole console, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(console);
        return ScenarioRuns.RepeatAsync(options.StarvationModes, options, console, Describe, (mode, repetition) => RunModeAsync(mode, repetition, options, cancellationToken));
    }

    public static Task WriteAsync(IReadOnlyList<StarvationResult> results, LoadTestOptions options, IAnsiConsole console, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(results);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(console);
        return ScenarioRuns.WriteAsync(
            "starvation",
            ToMarkdown(results, options),
            ["mode,repetition,baseline_p99_ms,p50_ms,p99_ms,reports_per_s,interactive_errors", .. results.Select(r => string.Create(CultureInfo.InvariantCulture, $"{r.Mode},{r.Repetition},{r.BaselineP99:F2},{r.P50:F2},{r.P99:F2},{r.ReportsPerSecond:F2},{r.InteractiveErrors}"))],
            options,
            console,
            cancellationToken);
    }

    private static async Task<StarvationResult> RunModeAsync(Mode mode, int repetition, LoadTestOptions options, CancellationToken cancellationToken)
    {
        double baselineP99 = await ScenarioRuns.BaselineP99Async(options, cancellationToken);
        await using ServerProcess server = await ServerProcess.StartAsync(mode, cancellationToken);
        using HttpClient client = LoadDriver.CreateClient(server.Address);
        await LoadDriver.WarmUpAsync(client, "/blocking-report", cancellationToken);
        await using Flood flood = await Flood.StartAsync(client, "/blocking-report", options, cancellationToken);
        (LoadDriver.Interactive measured, double reportsPerSecond) = await LoadDriver.MeasureUnderFloodAsync(client, flood, options, cancellationToken);
        return new StarvationResult(mode, repetition, baselineP99, measured.Ms(50), measured.Ms(99), reportsPerSecond, measured.Errors);
    }

    public static string Describe(Mode mode) => mode switch
    {
        Mode.BlockingNoIsolation => "no isolation",
        Mode.BlockingAspNetLimiter1 => "ASP.NET Core limiter, 1 permit",
        Mode.BlockingAspNetLimiter2 => "ASP.NET Core limiter, 2 permits",
        Mode.BlockingBulkhead => $"Bulkhead (reporting on {StarvationServer.DedicatedThreads} dedicated threads)",
        _ => mode.ToString(),
    };

    public static string ToMarkdown(IReadOnlyList<StarvationResult> results, LoadTestOptions options)
    {
        ArgumentNullException.ThrowIfNull(results);
        ArgumentNullException.ThrowIfNull(options);

        CultureInfo c = CultureInfo.InvariantCulture;
        var text = new StringBuilder();
        text.AppendLine(c, $"Interactive: {options.InteractiveRate} requests/s open loop for {options.Duration.TotalSeconds:F0} s. Reports: {options.ReportClients} closed-loop clients; "
            + $"each report blocks its thread {StarvationServer.BlockMs} ms on I/O (sync over async) around 2 ms of CPU. {options.Repetitions} repetition(s), each mode right after its own baseline; medians with min–max.");
        text.AppendLine();
        text.AppendLine("| mode | interactive p99 ÷ baseline | interactive p50 | interactive p99 | reports/s | interactive errors |");
        text.AppendLine("|---|---:|---:|---:|---:|---:|");
        foreach (IGrouping<Mode, StarvationResult> mode in results.GroupBy(r => r.Mode))
        {
            double[] ratio = [.. mode.Select(r => r.P99 / r.BaselineP99)];
            text.AppendLine(c, $"| {Describe(mode.Key)} | {ModeSummary.Range(ratio, "×")} | {ModeSummary.Median(mode.Select(r => r.P50)):F1} ms | "
                + $"{ModeSummary.Median(mode.Select(r => r.P99)):F1} ms | {ModeSummary.Median(mode.Select(r => r.ReportsPerSecond)):F1} | {mode.Sum(r => r.InteractiveErrors)} |");
        }

        return text.ToString();
    }
}
