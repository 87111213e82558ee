using System.Globalization;
using System.Text;
using Bulkhead.LoadTest.Reporting;
using Spectre.Console;

namespace Bulkhead.LoadTest.TwoServices;

/// <summary>Runs the two-service scenario for every mode, repeated; writes the table and a CSV of every run.</summary>
public static class TwoServicesRunner
{
    public static Task<IReadOnlyList<TwoServicesResult>> RunAsync(LoadTestOptions options, IAnsiConsole console, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(console);
        return ScenarioRuns.RepeatAsync(options.TwoServicesModes, options, console, Describe, (mode, repetition) => TwoServicesDriver.RunAsync(mode, repetition, options, cancellationToken));
    }

    public static Task WriteAsync(IReadOnlyList<TwoServicesResult> results, LoadTestOptions options, IAnsiConsole console, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(results);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(console);
        return ScenarioRuns.WriteAsync(
            "two-services",
            ToMarkdown(results, options),
            ["mode,repetition,baseline_p99_ms,p99_ms,reports_per_s", .. results.Select(r => string.Create(CultureInfo.InvariantCulture, $"{r.Mode},{r.Repetition},{r.BaselineP99:F2},{r.P99:F2},{r.ReportsPerSecond:F2}"))],
            options,
            console,
            cancellationToken);
    }

    public static string Describe(Mode mode) => mode switch
    {
        Mode.FrontUnpropagated => "without propagation (the back service sees every call alike)",
        Mode.FrontPropagated => "with propagation (AddWorkloadPropagation on the front service's client)",
        _ => mode.ToString(),
    };

    public static string ToMarkdown(IReadOnlyList<TwoServicesResult> results, LoadTestOptions options)
    {
        ArgumentNullException.ThrowIfNull(results);
        ArgumentNullException.ThrowIfNull(options);

        CultureInfo c = CultureInfo.InvariantCulture;
        double unpropagated = ModeSummary.Median(results.Where(r => r.Mode == Mode.FrontUnpropagated).Select(r => r.ReportsPerSecond));
        var text = new StringBuilder();
        text.AppendLine(c, $"A front service and a back service, each in a process of its own, both with Bulkhead and propagation on. The back service's seats are its {TwoServicesServer.Capacity} workers; "
            + $"its interactive class (the default) reserves {TwoServicesServer.InteractiveReserved} and goes first. An interactive request to the front makes one {TwoServicesServer.InteractiveCallMs} ms call to the back; "
            + $"a report {TwoServicesServer.ReportCalls} calls of {TwoServicesServer.ReportCallMs} ms at once. Interactive: {options.InteractiveRate} requests/s open loop, measured at the user; "
            + $"reports: {options.ReportClients} closed-loop clients. Baseline, then {options.Settle.TotalSeconds:F0} s of flood before {options.Duration.TotalSeconds:F0} s measured; "
            + $"{options.Repetitions} repetition(s), medians with min–max.");
        text.AppendLine();
        text.AppendLine("| mode | interactive p99 ÷ baseline | interactive p99 | reports/s | of without propagation |");
        text.AppendLine("|---|---:|---:|---:|---:|");
        foreach (IGrouping<Mode, TwoServicesResult> mode in results.GroupBy(r => r.Mode))
        {
            double[] ratio = [.. mode.Select(r => r.P99 / r.BaselineP99)];
            double reports = ModeSummary.Median(mode.Select(r => r.ReportsPerSecond));
            string share = unpropagated > 0 ? string.Create(c, $"{reports / unpropagated:P0}") : "–";
            text.AppendLine(c, $"| {Describe(mode.Key)} | {ModeSummary.Range(ratio, "×")} | {ModeSummary.Median(mode.Select(r => r.P99)):F1} ms | {reports:F1} | {share} |");
        }

        text.AppendLine();
        text.AppendLine(c, $"Baseline p99 (median of the runs' baselines): {ModeSummary.Median(results.Select(r => r.BaselineP99)):F1} ms.");
        return text.ToString();
    }
}
