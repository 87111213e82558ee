using System.Globalization;
using System.Text;
using Bulkhead.LoadTest.Reporting;
using Spectre.Console;

namespace Bulkhead.LoadTest.SharedDownstream;

/// <summary>Runs the shared-downstream scenario for every mode, repeated; writes the table and a CSV of every run.</summary>
public static class SharedDownstreamRunner
{
    public static Task<IReadOnlyList<FloodResult>> RunAsync(LoadTestOptions options, IAnsiConsole console, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(console);
        return ScenarioRuns.RepeatAsync(options.SharedDownstreamModes, options, console, Describe, (mode, repetition) => FloodResults.RunAgainstServiceAsync(Mode.DownstreamService, mode, repetition, SharedDownstreamDriver.ReportPath, options, cancellationToken));
    }

    public static Task WriteAsync(IReadOnlyList<FloodResult> results, LoadTestOptions options, IAnsiConsole console, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(results);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(console);
        return ScenarioRuns.WriteAsync(
            "shared-downstream",
            ToMarkdown(results, options),
            FloodResults.Csv(results),
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

    public static string ToMarkdown(IReadOnlyList<FloodResult> results, LoadTestOptions options)
    {
        ArgumentNullException.ThrowIfNull(results);
        ArgumentNullException.ThrowIfNull(options);

        CultureInfo c = CultureInfo.InvariantCulture;
        var text = new StringBuilder();
        text.AppendLine(c, $"A dependency in a process of its own, {SharedDownstreamServer.Capacity} workers, first in first out. An interactive request makes one {SharedDownstreamServer.InteractiveCallMs} ms call to it; "
            + $"a report {SharedDownstreamServer.ReportCalls} calls of {SharedDownstreamServer.ReportCallMs} ms at once, through HttpClient. Interactive: {options.InteractiveRate} requests/s open loop; "
            + $"reports: {options.ReportClients} closed-loop clients. Baseline, then {options.Settle.TotalSeconds:F0} s of flood before {options.Duration.TotalSeconds:F0} s measured; "
            + $"{options.Repetitions} repetition(s), medians with min–max.");
        text.AppendLine();
        FloodResults.AppendTable(text, results, Describe, Mode.SharedNoIsolation, "of unprotected");
        return text.ToString();
    }
}
