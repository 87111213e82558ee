using System.Globalization;
using System.Text;
using Bulkhead.LoadTest.Reporting;
using Spectre.Console;

namespace Bulkhead.LoadTest.Weighted;

/// <summary>Runs the weighted-seats scenario for every mode, repeated; writes the table and a CSV of every run.</summary>
public static class WeightedRunner
{
    public static Task<IReadOnlyList<WeightedResult>> RunAsync(LoadTestOptions options, IAnsiConsole console, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(console);
        return ScenarioRuns.RepeatAsync(options.WeightedModes, options, console, Describe, (mode, repetition) => WeightedDriver.RunAsync(mode, repetition, options, cancellationToken));
    }

    public static Task WriteAsync(IReadOnlyList<WeightedResult> results, LoadTestOptions options, IAnsiConsole console, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(results);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(console);
        return ScenarioRuns.WriteAsync(
            "weighted",
            ToMarkdown(results, options),
            ["mode,repetition,baseline_p99_ms,p99_ms,reports_per_s", .. results.Select(r => string.Create(CultureInfo.InvariantCulture, $"{r.Mode},{r.Repetition},{r.BaselineP99:F2},{r.P99:F2},{r.ReportsPerSecond:F2}"))],
            options,
            console,
            cancellationToken);
    }

    public static string Describe(Mode mode) => mode switch
    {
        Mode.WeightedNoIsolation => "no isolation",
        Mode.WeightedOneSeatEach => "Bulkhead, one seat per request",
        Mode.WeightedHandTuned => "Bulkhead, one seat per request, reporting MaxConcurrency 1 (hand-tuned)",
        Mode.WeightedSeats => $"Bulkhead, reports weight {WeightedServer.ReportUnits}",
        _ => mode.ToString(),
    };

    public static string ToMarkdown(IReadOnlyList<WeightedResult> results, LoadTestOptions options)
    {
        ArgumentNullException.ThrowIfNull(results);
        ArgumentNullException.ThrowIfNull(options);

        CultureInfo c = CultureInfo.InvariantCulture;
        var text = new StringBuilder();
        text.AppendLine(c, $"A shared downstream of {WeightedServer.Capacity} units (first in, first out): interactive calls take 1 unit for {WeightedServer.HoldTime.TotalMilliseconds:F0} ms, "
            + $"reports {WeightedServer.ReportUnits} units for {WeightedServer.HoldTime.TotalMilliseconds:F0} ms ({WeightedServer.ReportUnits}× the cost). Bulkhead: TotalConcurrency {WeightedServer.Capacity}, "
            + $"interactive reserves 8. Interactive: {options.InteractiveRate} requests/s open loop; reports: {options.ReportClients} closed-loop clients. "
            + $"Baseline, then {options.Settle.TotalSeconds:F0} s of flood before {options.Duration.TotalSeconds:F0} s measured; {options.Repetitions} repetition(s), medians with min–max.");
        text.AppendLine();
        text.AppendLine("| mode | interactive p99 ÷ baseline | reports/s |");
        text.AppendLine("|---|---:|---:|");
        foreach (IGrouping<Mode, WeightedResult> mode in results.GroupBy(r => r.Mode))
        {
            double[] ratio = [.. mode.Select(r => r.P99 / r.BaselineP99)];
            text.AppendLine(c, $"| {Describe(mode.Key)} | {ModeSummary.Range(ratio, "×")} | {ModeSummary.Median(mode.Select(r => r.ReportsPerSecond)):F1} |");
        }

        text.AppendLine();
        text.AppendLine(c, $"Baseline p99 (median of the runs' baselines): {ModeSummary.Median(results.Select(r => r.BaselineP99)):F1} ms.");
        return text.ToString();
    }
}
