using System.Globalization;
using System.Text;
using Bulkhead.LoadTest.Client;

namespace Bulkhead.LoadTest.Reporting;

/// <summary>The Markdown table of the results, as printed and as saved.</summary>
public static class ResultsTable
{
    public static string ToMarkdown(IReadOnlyList<ModeSummary> summaries, IReadOnlyList<PhaseResult> results, LoadTestOptions options)
    {
        ArgumentNullException.ThrowIfNull(summaries);
        ArgumentNullException.ThrowIfNull(results);
        ArgumentNullException.ThrowIfNull(options);

        var text = new StringBuilder();
        CultureInfo c = CultureInfo.InvariantCulture;
        text.AppendLine(c, $"Interactive: {options.InteractiveRate} requests/s open loop (0.5 ms CPU + 2 ms await). Reports: {options.ReportClients} closed-loop clients (40 ms CPU around an await). "
            + $"{options.Duration.TotalSeconds:F0} s per phase, {options.Repetitions} repetition(s); medians, ratios with min–max. Baseline p99 (median of the baselines): {Median(results.Where(r => r.IsBaseline).Select(r => r.P99)):F1} ms.");
        text.AppendLine();
        text.AppendLine("| mode | interactive p50 | p99 | p99.9 | max | p99 ÷ baseline | reports/s | reports ÷ no isolation | rejections | CPU: server / load generator (cores) |");
        text.AppendLine("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        foreach (ModeSummary s in summaries)
        {
            text.AppendLine(c, $"| {Describe(s.Mode)} | {s.P50:F1} ms | {s.P99:F1} ms | {s.P999:F1} ms | {s.Max:F1} ms | "
                + $"{s.P99Ratio:F2}× ({s.P99RatioMin:F2}–{s.P99RatioMax:F2}) | {s.ReportsPerSecond:F1} | "
                + $"{s.ThroughputRatio:P0} ({s.ThroughputRatioMin:P0}–{s.ThroughputRatioMax:P0}) | {s.Rejections} | {s.ServerCores:F2} / {s.DriverCores:F2} |");
        }

        return text.ToString();
    }

    public static string Describe(Mode mode) => mode switch
    {
        Mode.NoIsolation => "no isolation",
        Mode.AspNetLimiter1 => "ASP.NET Core limiter, 1 permit",
        Mode.AspNetLimiter2 => "ASP.NET Core limiter, 2 permits",
        Mode.BulkheadAdmissionOnly => "Bulkhead, admission only (no dedicated threads)",
        Mode.BulkheadLowest => "Bulkhead, reporting threads at Lowest",
        Mode.BulkheadIdle => "Bulkhead, reporting threads at Idle",
        _ => mode.ToString(),
    };

    private static double Median(IEnumerable<double> values)
    {
        double[] sorted = [.. values.Order()];
        return sorted.Length == 0 ? double.NaN : sorted[sorted.Length / 2];
    }
}
