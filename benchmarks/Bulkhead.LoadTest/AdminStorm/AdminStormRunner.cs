using System.Globalization;
using System.Text;
using Bulkhead.LoadTest.Reporting;
using Spectre.Console;

namespace Bulkhead.LoadTest.AdminStorm;

/// <summary>Runs the admin storm for every mode, repeated; writes the table and a CSV of every run.</summary>
public static class AdminStormRunner
{
    public static Task<IReadOnlyList<AdminStormResult>> RunAsync(LoadTestOptions options, IAnsiConsole console, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(console);
        return ScenarioRuns.RepeatAsync(options.AdminStormModes, options, console, Describe, (mode, repetition) => AdminStormDriver.RunAsync(mode, repetition, options, cancellationToken));
    }

    public static Task WriteAsync(IReadOnlyList<AdminStormResult> results, LoadTestOptions options, IAnsiConsole console, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(results);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(console);
        return ScenarioRuns.WriteAsync(
            "admin-storm",
            ToMarkdown(results, options),
            ["mode,repetition,baseline_p99_ms,p50_ms,p99_ms,served,rejected_with_retry_after,other_answers,lost,cleared_s", .. results.Select(r => string.Create(CultureInfo.InvariantCulture, $"{r.Mode},{r.Repetition},{r.BaselineP99:F2},{r.P50:F2},{r.P99:F2},{r.Served},{r.RejectedWithRetryAfter},{r.OtherAnswers},{r.Lost},{r.ClearedSeconds:F2}"))],
            options,
            console,
            cancellationToken);
    }

    public static string Describe(Mode mode) => mode switch
    {
        Mode.AdminNoIsolation => "no isolation",
        Mode.AdminAspNetLimiter => "ASP.NET Core limiter (1 permit, queue 20, 503)",
        Mode.AdminBulkhead => "Bulkhead (admin class: 1 seat on an idle-priority thread, queue 20)",
        _ => mode.ToString(),
    };

    public static string ToMarkdown(IReadOnlyList<AdminStormResult> results, LoadTestOptions options)
    {
        ArgumentNullException.ThrowIfNull(results);
        ArgumentNullException.ThrowIfNull(options);

        CultureInfo c = CultureInfo.InvariantCulture;
        var text = new StringBuilder();
        text.AppendLine(c, $"Interactive: {options.InteractiveRate} requests/s open loop for {options.Duration.TotalSeconds:F0} s. A quarter of the way in, {options.AdminStormCalls} admin calls "
            + $"({AdminStormServer.AdminCpuMs:F0} ms of CPU each) arrive at once. {options.Repetitions} repetition(s), each with its own baseline; medians with min–max; admin outcomes summed over the runs.");
        text.AppendLine();
        text.AppendLine("| mode | interactive p99 ÷ baseline | interactive p99 | admin served | 503 + Retry-After | other answers | lost | storm answered in |");
        text.AppendLine("|---|---:|---:|---:|---:|---:|---:|---:|");
        foreach (IGrouping<Mode, AdminStormResult> mode in results.GroupBy(r => r.Mode))
        {
            double[] ratio = [.. mode.Select(r => r.P99 / r.BaselineP99)];
            text.AppendLine(c, $"| {Describe(mode.Key)} | {ModeSummary.Range(ratio, "×")} | {ModeSummary.Median(mode.Select(r => r.P99)):F1} ms | "
                + $"{mode.Sum(r => r.Served)} | {mode.Sum(r => r.RejectedWithRetryAfter)} | {mode.Sum(r => r.OtherAnswers)} | {mode.Sum(r => r.Lost)} | {ModeSummary.Median(mode.Select(r => r.ClearedSeconds)):F1} s |");
        }

        return text.ToString();
    }
}
