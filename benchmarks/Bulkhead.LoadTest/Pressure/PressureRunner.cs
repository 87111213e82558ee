using System.Globalization;
using System.Text;
using Bulkhead.LoadTest.Client;
using Bulkhead.LoadTest.Reporting;
using Spectre.Console;

namespace Bulkhead.LoadTest.Pressure;

/// <summary>One run of one mode: the interactive endpoint against its baseline while reports flood, and what became of the reports.</summary>
/// <remarks>The flood runs <see cref="LoadTestOptions.Settle"/> before it is measured, as in the headline scenario; <see cref="StartP99"/> is the interactive p99 meanwhile, and <see cref="StartFailures"/> counts the reports that failed meanwhile (<see cref="ReportFailures"/>: in the whole run).</remarks>
public sealed record PressureResult(Mode Mode, int Repetition, double BaselineP99, double StartP99, double P50, double P99, double ReportsPerSecond, double RefusedPerSecond, long StartFailures, long ReportFailures, long InteractiveErrors, bool ServerDied);

/// <summary>
/// Shedding under pressure, each mode right after its own baseline. Memory: closed-loop clients call a report that holds
/// 16 MiB for a quarter of a second, twice as many as the GC heap limit can hold at once. CPU: closed-loop clients call a
/// report of 40 ms of CPU on the ThreadPool. A refused client waits 100 ms before its next call, as one honouring
/// <c>Retry-After</c> would.
/// </summary>
public static class PressureRunner
{
    /// <summary>How long a client whose report was not served waits before the next.</summary>
    public static readonly TimeSpan BackOff = TimeSpan.FromMilliseconds(100);

    public static Task<IReadOnlyList<PressureResult>> RunAsync(LoadTestOptions options, IAnsiConsole console, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(console);
        return ScenarioRuns.RepeatAsync(options.PressureModes, options, console, Describe, (mode, repetition) => RunModeAsync(mode, repetition, options, cancellationToken));
    }

    public static Task WriteAsync(IReadOnlyList<PressureResult> results, LoadTestOptions options, IAnsiConsole console, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(results);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(console);
        return ScenarioRuns.WriteAsync(
            "pressure",
            ToMarkdown(results, options),
            ["mode,repetition,baseline_p99_ms,start_p99_ms,p50_ms,p99_ms,reports_per_s,refused_per_s,start_failures,report_failures,interactive_errors,server_died",
             .. results.Select(r => string.Create(CultureInfo.InvariantCulture, $"{r.Mode},{r.Repetition},{r.BaselineP99:F2},{r.StartP99:F2},{r.P50:F2},{r.P99:F2},{r.ReportsPerSecond:F2},{r.RefusedPerSecond:F2},{r.StartFailures},{r.ReportFailures},{r.InteractiveErrors},{r.ServerDied}"))],
            options,
            console,
            cancellationToken);
    }

    /// <summary>The memory modes' report clients: twice the reports the heap limit can hold at once.</summary>
    public static int MemoryClients(LoadTestOptions options) => Math.Max(2, options.ReportClients * 2);

    private static async Task<PressureResult> RunModeAsync(Mode mode, int repetition, LoadTestOptions options, CancellationToken cancellationToken)
    {
        double baselineP99 = await ScenarioRuns.BaselineP99Async(options, cancellationToken);
        bool memory = PressureServer.IsMemory(mode);
        string path = memory ? "/memory-report" : "/cpu-report";
        await using ServerProcess server = await ServerProcess.StartAsync(mode, PressureServer.Environment(mode), cancellationToken);
        using HttpClient client = LoadDriver.CreateClient(server.Address);
        await LoadDriver.WarmUpAsync(client, path, cancellationToken);
        LoadTestOptions flooding = memory ? options with { ReportClients = MemoryClients(options) } : options;
        await using Flood flood = await Flood.StartAsync(client, path, flooding, cancellationToken, BackOff);

        // The start, as the flood arrives, is measured on its own: a rule that reacts to a reading lets the first reports
        // in before it sheds, and that costs the interactive traffic of the first readings.
        LoadDriver.Interactive start = await LoadDriver.MeasureInteractiveAsync(client, options with { Duration = options.Settle }, cancellationToken);
        long refusedBefore = flood.Rejections - flood.Failures;
        long startFailures = flood.Failures;
        (LoadDriver.Interactive measured, double reportsPerSecond) = await LoadDriver.MeasureUnderFloodAsync(client, flood, options, cancellationToken);
        double refusedPerSecond = (flood.Rejections - flood.Failures - refusedBefore) / measured.Seconds;
        return new PressureResult(mode, repetition, baselineP99, start.Ms(99), measured.Ms(50), measured.Ms(99), reportsPerSecond, refusedPerSecond, startFailures, flood.Failures, measured.Errors + start.Errors, server.HasExited);
    }

    public static string Describe(Mode mode) => mode switch
    {
        Mode.MemoryNoIsolation => "memory: no isolation",
        Mode.MemoryBulkhead => $"memory: Bulkhead, reporting MaxConcurrency {PressureServer.ReportLimit}, no Shed rule",
        Mode.MemoryHandTuned => $"memory: Bulkhead, reporting MaxConcurrency {PressureServer.HandTunedMemoryLimit} (tuned by hand for the heap)",
        Mode.MemoryBulkheadShed => $"memory: Bulkhead, MaxConcurrency {PressureServer.ReportLimit} with Shed MemoryAbove {PressureServer.MemoryAbove}",
        Mode.MemoryHeapSizedShed => $"memory: Bulkhead, MaxConcurrency {PressureServer.HeapSizedLimit} (what the heap can hold) with Shed MemoryAbove {PressureServer.MemoryAbove}",
        Mode.CpuNoIsolation => "CPU: no isolation (reports on the ThreadPool)",
        Mode.CpuHandTuned => $"CPU: Bulkhead, reporting MaxConcurrency {PressureServer.HandTunedCpuLimit} (tuned by hand)",
        Mode.CpuShed => $"CPU: Bulkhead, reporting MaxConcurrency {PressureServer.ReportLimit} with Shed CpuAbove {PressureServer.CpuAbove}, Hysteresis {PressureServer.CpuHysteresis}",
        _ => mode.ToString(),
    };

    public static string ToMarkdown(IReadOnlyList<PressureResult> results, LoadTestOptions options)
    {
        ArgumentNullException.ThrowIfNull(results);
        ArgumentNullException.ThrowIfNull(options);

        CultureInfo c = CultureInfo.InvariantCulture;
        var text = new StringBuilder();
        text.AppendLine(c, $"Interactive: {options.InteractiveRate} requests/s open loop, the first {options.Settle.TotalSeconds:F0} s of the flood measured on their own, then {options.Duration.TotalSeconds:F0} s. Memory: {MemoryClients(options)} closed-loop clients; each report holds "
            + $"{PressureServer.ReportMiB} MiB for {PressureServer.HoldMs} ms in a server whose GC heap may hold {PressureServer.HeapLimitMiB} MiB (DOTNET_GCHeapHardLimit). CPU: {options.ReportClients} closed-loop clients; "
            + $"each report is {PressureServer.ReportCpuMs} ms of CPU on the ThreadPool. Pressure read every {PressureServer.Interval.TotalMilliseconds:F0} ms; a refused client waits {BackOff.TotalMilliseconds:F0} ms. "
            + $"{options.Repetitions} repetition(s), each mode right after its own baseline; medians with min–max.");
        text.AppendLine();
        text.AppendLine(c, $"| mode | interactive p99 ÷ baseline | interactive p99 | first {options.Settle.TotalSeconds:F0} s: p99 ÷ baseline | reports/s | refused/s | failed reports (first {options.Settle.TotalSeconds:F0} s + rest) | interactive errors | server died |");
        text.AppendLine("|---|---:|---:|---:|---:|---:|---:|---:|---:|");
        foreach (IGrouping<Mode, PressureResult> mode in results.GroupBy(r => r.Mode))
        {
            double[] ratio = [.. mode.Select(r => r.P99 / r.BaselineP99)];
            double[] start = [.. mode.Select(r => r.StartP99 / r.BaselineP99)];
            text.AppendLine(c, $"| {Describe(mode.Key)} | {ModeSummary.Range(ratio, "×")} | {ModeSummary.Median(mode.Select(r => r.P99)):F1} ms | {ModeSummary.Range(start, "×")} | "
                + $"{ModeSummary.Median(mode.Select(r => r.ReportsPerSecond)):F1} | {ModeSummary.Median(mode.Select(r => r.RefusedPerSecond)):F1} | {mode.Sum(r => r.StartFailures)} + {mode.Sum(r => r.ReportFailures - r.StartFailures)} | {mode.Sum(r => r.InteractiveErrors)} | "
                + $"{mode.Count(r => r.ServerDied)} of {mode.Count()} |");
        }

        double tuned = ModeSummary.Median(results.Where(r => r.Mode == Mode.CpuHandTuned).Select(r => r.ReportsPerSecond).DefaultIfEmpty(double.NaN));
        double shed = ModeSummary.Median(results.Where(r => r.Mode == Mode.CpuShed).Select(r => r.ReportsPerSecond).DefaultIfEmpty(double.NaN));
        if (!double.IsNaN(tuned) && !double.IsNaN(shed) && tuned > 0)
        {
            text.AppendLine();
            text.AppendLine(c, $"CPU: the Shed rule served {shed / tuned:P0} of the reports the hand-tuned limit did.");
        }

        return text.ToString();
    }
}
