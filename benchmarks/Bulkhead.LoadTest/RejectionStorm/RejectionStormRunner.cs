using System.Globalization;
using System.Text;
using Bulkhead.LoadTest.Reporting;
using Spectre.Console;

namespace Bulkhead.LoadTest.RejectionStorm;

/// <summary>Runs the rejection storm for every mode, repeated; writes the table and a CSV of every run.</summary>
public static class RejectionStormRunner
{
    public static Task<IReadOnlyList<RejectionStormResult>> RunAsync(LoadTestOptions options, IAnsiConsole console, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(console);
        return ScenarioRuns.RepeatAsync(options.RejectionStormModes, options, console, Describe, (mode, repetition) => RejectionStormDriver.RunAsync(mode, repetition, options, cancellationToken));
    }

    public static Task WriteAsync(IReadOnlyList<RejectionStormResult> results, LoadTestOptions options, IAnsiConsole console, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(results);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(console);
        return ScenarioRuns.WriteAsync(
            "rejection-storm",
            ToMarkdown(results, options),
            ["mode,repetition,calm_reports_per_s,storm_reports_per_s,calm_p99_ms,storm_p99_ms,refusals_per_s,server_cores,driver_cores", .. results.Select(r => string.Create(CultureInfo.InvariantCulture, $"{r.Mode},{r.Repetition},{r.CalmReportsPerSecond:F2},{r.StormReportsPerSecond:F2},{r.CalmP99:F2},{r.StormP99:F2},{r.RefusalsPerSecond:F0},{r.ServerCores:F2},{r.DriverCores:F2}"))],
            options,
            console,
            cancellationToken);
    }

    public static string Describe(Mode mode) => mode switch
    {
        Mode.AspNetLimiter2 => "ASP.NET Core limiter (reports: 2 permits; partner: 1 a second, bare 503)",
        Mode.BulkheadLowest => "Bulkhead (reports on 2 threads at nice 19; partner: 1 a second, 429 + problem details)",
        Mode.BulkheadIdle => "Bulkhead (reports on 2 SCHED_IDLE threads; partner: 1 a second, 429 + problem details)",
        _ => mode.ToString(),
    };

    public static string ToMarkdown(IReadOnlyList<RejectionStormResult> results, LoadTestOptions options)
    {
        ArgumentNullException.ThrowIfNull(results);
        ArgumentNullException.ThrowIfNull(options);

        CultureInfo c = CultureInfo.InvariantCulture;
        var text = new StringBuilder();
        text.AppendLine(c, $"{options.ReportClients} report clients and interactive requests at {options.InteractiveRate}/s, measured {options.Duration.TotalSeconds:F0} s calm, then "
            + $"{options.Duration.TotalSeconds:F0} s while {options.StormClients} clients call an endpoint that refuses all but one call a second, each retrying the moment it is refused. "
            + $"{options.Repetitions} repetition(s) on one server each; medians with min–max. Cores: CPU time over wall time during the storm (server; load generator).");
        text.AppendLine();
        text.AppendLine("| mode | reports in the storm ÷ calm | reports/s calm → storm | interactive p99 calm → storm | refusals/s | cores (server; driver) |");
        text.AppendLine("|---|---:|---:|---:|---:|---:|");
        foreach (IGrouping<Mode, RejectionStormResult> mode in results.GroupBy(r => r.Mode))
        {
            double[] ratio = [.. mode.Select(r => r.StormReportsPerSecond / r.CalmReportsPerSecond)];
            text.AppendLine(c, $"| {Describe(mode.Key)} | {ModeSummary.Range(ratio, "")} | {ModeSummary.Median(mode.Select(r => r.CalmReportsPerSecond)):F1} → {ModeSummary.Median(mode.Select(r => r.StormReportsPerSecond)):F1} | "
                + $"{ModeSummary.Median(mode.Select(r => r.CalmP99)):F1} → {ModeSummary.Median(mode.Select(r => r.StormP99)):F1} ms | {ModeSummary.Median(mode.Select(r => r.RefusalsPerSecond)):F0} | "
                + $"{ModeSummary.Median(mode.Select(r => r.ServerCores)):F2}; {ModeSummary.Median(mode.Select(r => r.DriverCores)):F2} |");
        }

        return text.ToString();
    }
}
