using System.Globalization;
using System.Text;
using Bulkhead.LoadTest.Reporting;
using Spectre.Console;

namespace Bulkhead.LoadTest.TwoServices;

/// <summary>Runs the two-service scenario for every mode, repeated; writes the table and a CSV of every run.</summary>
public static class TwoServicesRunner
{
    public static Task<IReadOnlyList<FloodResult>> RunAsync(LoadTestOptions options, IAnsiConsole console, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(console);
        return ScenarioRuns.RepeatAsync(options.TwoServicesModes, options, console, Describe, (mode, repetition) => FloodResults.RunAgainstServiceAsync(Mode.BackService, mode, repetition, TwoServicesDriver.ReportPath, options, cancellationToken));
    }

    public static Task WriteAsync(IReadOnlyList<FloodResult> results, LoadTestOptions options, IAnsiConsole console, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(results);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(console);
        return ScenarioRuns.WriteAsync(
            "two-services",
            ToMarkdown(results, options),
            FloodResults.Csv(results),
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

    public static string ToMarkdown(IReadOnlyList<FloodResult> results, LoadTestOptions options)
    {
        ArgumentNullException.ThrowIfNull(results);
        ArgumentNullException.ThrowIfNull(options);

        CultureInfo c = CultureInfo.InvariantCulture;
        var text = new StringBuilder();
        text.AppendLine(c, $"A front service and a back service, each in a process of its own, both with Bulkhead and propagation on. The back service's seats are its {TwoServicesServer.Capacity} workers; "
            + $"its interactive class (the default) reserves {TwoServicesServer.InteractiveReserved} and goes first. An interactive request to the front makes one {TwoServicesServer.InteractiveCallMs} ms call to the back; "
            + $"a report {TwoServicesServer.ReportCalls} calls of {TwoServicesServer.ReportCallMs} ms at once. Interactive: {options.InteractiveRate} requests/s open loop, measured at the user; "
            + $"reports: {options.ReportClients} closed-loop clients. Baseline, then {options.Settle.TotalSeconds:F0} s of flood before {options.Duration.TotalSeconds:F0} s measured; "
            + $"{options.Repetitions} repetition(s), medians with min–max.");
        text.AppendLine();
        FloodResults.AppendTable(text, results, Describe, Mode.FrontUnpropagated, "of without propagation");
        return text.ToString();
    }
}
