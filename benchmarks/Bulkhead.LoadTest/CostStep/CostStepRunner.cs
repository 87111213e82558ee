using System.Globalization;
using System.Text;
using Bulkhead.LoadTest.Reporting;
using ScottPlot;
using Spectre.Console;

namespace Bulkhead.LoadTest.CostStep;

/// <summary>Runs the cost step for every mode, repeated; writes the table, a CSV of every run and the chart.</summary>
public static class CostStepRunner
{
    public static Task<IReadOnlyList<CostStepResult>> RunAsync(LoadTestOptions options, IAnsiConsole console, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(console);
        return ScenarioRuns.RepeatAsync(options.CostStepModes, options, console, mode => Describe(mode, options), (mode, repetition) => CostStepDriver.RunAsync(mode, repetition, options, cancellationToken));
    }

    public static async Task WriteAsync(IReadOnlyList<CostStepResult> results, LoadTestOptions options, IAnsiConsole console, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(results);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(console);

        if (options.Chart)
        {
            Directory.CreateDirectory(options.OutputDirectory);
            SaveChart(results, options, Path.Combine(options.OutputDirectory, $"{FileName(options)}.svg"));
        }

        await ScenarioRuns.WriteAsync(
            FileName(options),
            ToMarkdown(results, options),
            ["mode,repetition,baseline_p99_ms,light_p99_ms,heavy_p99_ms,transition_p99_ms,light_reports_per_s,heavy_reports_per_s,light_limit,heavy_limit,light_seat_time_p99_ms,heavy_seat_time_p99_ms,light_threadpool_delay_p99_ms,heavy_threadpool_delay_p99_ms,report_threads",
             .. results.Select(r => string.Create(CultureInfo.InvariantCulture, $"{r.Mode},{r.Repetition},{r.BaselineP99:F2},{r.LightP99:F2},{r.HeavyP99:F2},{r.TransitionP99:F2},{r.LightReportsPerSecond:F2},{r.HeavyReportsPerSecond:F2},{r.LightLimit},{r.HeavyLimit},{r.LightSeatTimeP99:F2},{r.HeavySeatTimeP99:F2},{r.LightPoolDelayP99:F2},{r.HeavyPoolDelayP99:F2},{r.ReportThreads}"))],
            options,
            console,
            cancellationToken);
    }

    /// <summary>
    /// Where the results go: <c>cost-step</c>, <c>cost-step-downstream</c> for the downstream variant, or
    /// <c>cost-step-threads-N</c> with reports on N threads of their own.
    /// </summary>
    public static string FileName(LoadTestOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        return options.CostStepDownstream ? "cost-step-downstream"
            : options.CostStepThreads > 0 ? string.Create(CultureInfo.InvariantCulture, $"cost-step-threads-{options.CostStepThreads}")
            : "cost-step";
    }

    public static string Describe(Mode mode, LoadTestOptions options) => mode switch
    {
        Mode.StaticTunedLight => $"static limit {options.LightLimit} (tuned for light reports)",
        Mode.StaticTunedHeavy => $"static limit {options.HeavyLimit} (tuned for heavy reports)",
        Mode.AdaptiveAimd => "adaptive, AIMD",
        Mode.AdaptiveGradient => "adaptive, gradient",
        _ => mode.ToString(),
    };

    public static string ToMarkdown(IReadOnlyList<CostStepResult> results, LoadTestOptions options)
    {
        ArgumentNullException.ThrowIfNull(results);
        ArgumentNullException.ThrowIfNull(options);

        CultureInfo c = CultureInfo.InvariantCulture;
        var text = new StringBuilder();
        string cost = options.CostStepDownstream
            ? $"{CostStepServer.LightUnits} units of a shared downstream of 64 (first in, first out; interactive calls take 1) for {CostStepServer.HoldTime.TotalMilliseconds:F0} ms, then {2 * CostStepServer.LightUnits} units from halfway; interactive traffic goes on (unmeasured) while each half settles"
            : $"{options.ReportCpuMs:0.#} ms of CPU around a {options.ReportAwaitMs} ms await, then {2 * options.ReportCpuMs:0.#} ms from halfway";
        string execution = options.CostStepThreads > 0
            ? $"Reports run on the reporting class's own {options.CostStepThreads} idle-priority threads (Execution); interactive traffic goes on (unmeasured) while each half settles"
            : "Admission only (no dedicated threads)";
        text.AppendLine(c, $"Interactive: {options.InteractiveRate} requests/s open loop. Reports: {options.ReportClients} closed-loop clients; "
            + $"{cost}. {execution}. "
            + $"Each half runs {options.Settle.TotalSeconds:F0} s, then is measured for {options.Duration.TotalSeconds:F0} s; {options.Repetitions} repetition(s), medians with min–max. "
            + $"Adaptive: {Objectives(options)}, reporting configured at 16, window 250 ms, at least 20 measures a window, headroom {options.Headroom:0.##}.");
        text.AppendLine();
        text.AppendLine("| mode | p99 ÷ baseline, light | p99 ÷ baseline, heavy | p99 while the cost changes | reports/s, light | reports/s, heavy | reports, both halves ÷ static heavy | reporting limit, light / heavy |");
        text.AppendLine("|---|---:|---:|---:|---:|---:|---:|---:|");
        Dictionary<int, double> heavyTuned = results.Where(r => r.Mode == Mode.StaticTunedHeavy)
            .ToDictionary(r => r.Repetition, r => r.LightReportsPerSecond + r.HeavyReportsPerSecond);
        foreach (IGrouping<Mode, CostStepResult> mode in results.GroupBy(r => r.Mode))
        {
            double[] light = [.. mode.Select(r => r.LightP99 / r.BaselineP99)];
            double[] heavy = [.. mode.Select(r => r.HeavyP99 / r.BaselineP99)];
            double[] transition = [.. mode.Select(r => r.TransitionP99 / r.BaselineP99)];
            double[] share = [.. mode.Where(r => heavyTuned.ContainsKey(r.Repetition)).Select(r => (r.LightReportsPerSecond + r.HeavyReportsPerSecond) / heavyTuned[r.Repetition])];
            text.AppendLine(c, $"| {Describe(mode.Key, options)} | {ModeSummary.Range(light, "×")} | {ModeSummary.Range(heavy, "×")} | {ModeSummary.Range(transition, "×")} | "
                + $"{ModeSummary.Median(mode.Select(r => r.LightReportsPerSecond)):F1} | {ModeSummary.Median(mode.Select(r => r.HeavyReportsPerSecond)):F1} | {ModeSummary.Range(share, "×")} | "
                + $"{ModeSummary.Median(mode.Select(r => (double)r.LightLimit)):F0} / {ModeSummary.Median(mode.Select(r => (double)r.HeavyLimit)):F0} |");
        }

        text.AppendLine();
        text.AppendLine(c, $"Baseline p99 (median of the runs' baselines): {ModeSummary.Median(results.Select(r => r.BaselineP99)):F1} ms.");
        return text.ToString();
    }

    private static string Objectives(LoadTestOptions options) => string.Join(" and ", new[]
    {
        options.PoolObjectiveMs > 0 ? string.Create(CultureInfo.InvariantCulture, $"ThreadPool delay p99 ≤ {options.PoolObjectiveMs:0.#} ms") : null,
        options.SeatObjectiveMs > 0 ? string.Create(CultureInfo.InvariantCulture, $"interactive seat time p99 ≤ {options.SeatObjectiveMs:0.#} ms") : null,
    }.OfType<string>());

    private static void SaveChart(IReadOnlyList<CostStepResult> results, LoadTestOptions options, string path)
    {
        var plot = new Plot();
        Mode[] modes = [.. results.Select(r => r.Mode).Distinct()];
        var bars = new List<Bar>();
        for (int i = 0; i < modes.Length; i++)
        {
            CostStepResult[] runs = [.. results.Where(r => r.Mode == modes[i])];
            bars.Add(new Bar { Position = (i * 3) + 0, Value = ModeSummary.Median(runs.Select(r => r.LightP99 / r.BaselineP99)), FillColor = Colors.SteelBlue });
            bars.Add(new Bar { Position = (i * 3) + 1, Value = ModeSummary.Median(runs.Select(r => r.HeavyP99 / r.BaselineP99)), FillColor = Colors.Crimson });
        }

        plot.Add.Bars(bars);
        var goal = plot.Add.HorizontalLine(1.1);
        goal.LinePattern = LinePattern.Dashed;
        goal.Color = Colors.Gray;
        double[] xs = [.. Enumerable.Range(0, modes.Length).Select(i => (i * 3) + 0.5)];
        plot.Axes.Bottom.SetTicks(xs, [.. modes.Select(m => Describe(m, options).Replace(" (", "\n(", StringComparison.Ordinal))]);
        plot.Axes.Left.Label.Text = "interactive p99 ÷ baseline: light half (blue), heavy half (red); goal 1.1 (dashed)";
        var throughput = plot.Add.Scatter(xs, [.. modes.Select(m => ModeSummary.Median(results.Where(r => r.Mode == m).Select(r => r.LightReportsPerSecond + r.HeavyReportsPerSecond)) / 2)]);
        throughput.Axes.YAxis = plot.Axes.Right;
        throughput.LineWidth = 2;
        throughput.Color = Colors.Black;
        plot.Axes.Right.Label.Text = "reports/s, mean of the halves (line)";
        plot.Title("Report cost doubles halfway: interactive p99 and report throughput");
        plot.Axes.Margins(bottom: 0);
        plot.SaveSvg(path, 1100, 500);
    }
}
