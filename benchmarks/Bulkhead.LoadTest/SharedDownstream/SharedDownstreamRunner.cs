using System.Globalization;
using System.Text;
using Bulkhead.LoadTest.Reporting;
using Spectre.Console;

namespace Bulkhead.LoadTest.SharedDownstream;

/// <summary>Runs the shared-downstream scenario for every mode, repeated; writes the table and a CSV of every run.</summary>
public static class SharedDownstreamRunner
{
    public static Task<IReadOnlyList<SharedDownstreamResult>> RunAsync(LoadTestOptions options, IAnsiConsole console, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(console);
        return ScenarioRuns.RepeatAsync(options.SharedDownstreamModes, options, console, Describe, (mode, repetition) => SharedDownstreamDriver.RunAsync(mode, repetition, options, cancellationToken));
    }

    public static Task WriteAsync(IReadOnlyList<SharedDownstreamResult> results, LoadTestOptions options, IAnsiConsole console, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(results);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(console);
        return ScenarioRuns.WriteAsync(
            "shared-downstream",
            ToMarkdown(results, options),
            ["mode,repetition,baseline_p99_ms,p99_ms,reports_per_s", .. results.Select(r => string.Create(CultureInfo.InvariantCulture, $"{r.Mode},{r.Repetition},{r.BaselineP99:F2},{r.P99:F2},{r.ReportsPerSecond:F2}"))],
            options,
            console,
            cancellationToken);
    }

    public static string Describe(Mode mode) => mode switch
    {
        Mode.SharedNoIsolation => "no isolation",
        Mode.SharedPollyLimiter => $"Polly concurrency limiter on the reports' HttpClient ({SharedDownstreamServer.ReportSeats} permits)",
        Mode.SharedBulkhead => $"Bulkhead.Http (interactive calls reserve {SharedDownstreamServer.Capacity - SharedDownstreamServer.ReportSeats} of {SharedDownstreamServer.Capacity} seats)",
        _ => mode.ToString(),
    };

    public static string ToMarkdown(IReadOnlyList<SharedDownstreamResult> results, LoadTestOptions options)
    {
        ArgumentNullException.ThrowIfNull(results);
        ArgumentNullException.ThrowIfNull(options);

        CultureInfo c = CultureInfo.InvariantCulture;
        double unprotected = ModeSummary.Median(results.Where(r => r.Mode == Mode.SharedNoIsolation).Select(r => r.ReportsPerSecond));
        var text = new StringBuilder();
        text.AppendLine(c, $"A dependency in a process of its own, {SharedDownstreamServer.Capacity} workers, first in first out. An interactive request makes one {SharedDownstreamServer.InteractiveCallMs} ms call to it; "
            + $"a report {SharedDownstreamServer.ReportCalls} calls of {SharedDownstreamServer.ReportCallMs} ms at once, through HttpClient. Interactive: {options.InteractiveRate} requests/s open loop; "
            + $"reports: {options.ReportClients} closed-loop clients. Baseline, then {options.Settle.TotalSeconds:F0} s of flood before {options.Duration.TotalSeconds:F0} s measured; "
            + $"{options.Repetitions} repetition(s), medians with min–max.");
        text.AppendLine();
        text.AppendLine("| mode | interactive p99 ÷ baseline | interactive p99 | reports/s | of unprotected |");
        text.AppendLine("|---|---:|---:|---:|---:|");
        foreach (IGrouping<Mode, SharedDownstreamResult> mode in results.GroupBy(r => r.Mode))
        {
            double[] ratio = [.. mode.Select(r => r.P99 / r.BaselineP99)];
            double reports = ModeSummary.Median(mode.Select(r => r.ReportsPerSecond));
            string share = unprotected > 0 ? string.Create(c, $"{reports / unprotected:P0}") : "–";
            text.AppendLine(c, $"| {Describe(mode.Key)} | {ModeSummary.Range(ratio, "×")} | {ModeSummary.Median(mode.Select(r => r.P99)):F1} ms | {reports:F1} | {share} |");
        }

        text.AppendLine();
        text.AppendLine(c, $"Baseline p99 (median of the runs' baselines): {ModeSummary.Median(results.Select(r => r.BaselineP99)):F1} ms.");
        return text.ToString();
    }
}
