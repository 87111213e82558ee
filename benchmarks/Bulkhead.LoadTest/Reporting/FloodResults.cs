using System.Globalization;
using System.Text;
using Bulkhead.LoadTest.Client;

namespace Bulkhead.LoadTest.Reporting;

/// <summary>One mode's run: the interactive endpoint alone (the baseline), then under the report flood.</summary>
public sealed record FloodResult(Mode Mode, int Repetition, double BaselineP99, double P99, double ReportsPerSecond);

/// <summary>
/// The scenarios where the front server's work calls another service in a process of its own (a shared dependency, a
/// back service): their run, their CSV and their table, the same for each.
/// </summary>
internal static class FloodResults
{
    /// <summary>Starts the called service (<paramref name="serviceMode"/>), then the front server, and measures the front's interactive endpoint alone and under the flood.</summary>
    public static async Task<FloodResult> RunAgainstServiceAsync(Mode serviceMode, Mode mode, int repetition, string reportPath, LoadTestOptions options, CancellationToken cancellationToken)
    {
        await using ServerProcess service = await ServerProcess.StartAsync(serviceMode, cancellationToken);
        await using ServerProcess front = await ServerProcess.StartAsync(mode, cancellationToken, "--dependency", service.Address.ToString());
        (double baselineP99, double p99, double reportsPerSecond) = await LoadDriver.MeasureBaselineThenFloodAsync(front.Address, reportPath, options, cancellationToken);
        return new FloodResult(mode, repetition, baselineP99, p99, reportsPerSecond);
    }

    public static string[] Csv(IReadOnlyList<FloodResult> results) =>
        ["mode,repetition,baseline_p99_ms,p99_ms,reports_per_s", .. results.Select(r => string.Create(CultureInfo.InvariantCulture, $"{r.Mode},{r.Repetition},{r.BaselineP99:F2},{r.P99:F2},{r.ReportsPerSecond:F2}"))];

    /// <summary>A row per mode (the p99's ratio to its baseline, the p99, the reports and their share of <paramref name="reference"/>'s), then the baseline.</summary>
    public static void AppendTable(StringBuilder text, IReadOnlyList<FloodResult> results, Func<Mode, string> describe, Mode reference, string referenceHeader)
    {
        CultureInfo c = CultureInfo.InvariantCulture;
        double referenceReports = ModeSummary.Median(results.Where(r => r.Mode == reference).Select(r => r.ReportsPerSecond));
        text.AppendLine(c, $"| mode | interactive p99 ÷ baseline | interactive p99 | reports/s | {referenceHeader} |");
        text.AppendLine("|---|---:|---:|---:|---:|");
        foreach (IGrouping<Mode, FloodResult> mode in results.GroupBy(r => r.Mode))
        {
            double[] ratio = [.. mode.Select(r => r.P99 / r.BaselineP99)];
            double reports = ModeSummary.Median(mode.Select(r => r.ReportsPerSecond));
            string share = referenceReports > 0 ? string.Create(c, $"{reports / referenceReports:P0}") : "–";
            text.AppendLine(c, $"| {describe(mode.Key)} | {ModeSummary.Range(ratio, "×")} | {ModeSummary.Median(mode.Select(r => r.P99)):F1} ms | {reports:F1} | {share} |");
        }

        text.AppendLine();
        text.AppendLine(c, $"Baseline p99 (median of the runs' baselines): {ModeSummary.Median(results.Select(r => r.BaselineP99)):F1} ms.");
    }
}
