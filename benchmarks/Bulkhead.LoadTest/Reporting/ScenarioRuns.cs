using Bulkhead.LoadTest.Client;
using Spectre.Console;

namespace Bulkhead.LoadTest.Reporting;

/// <summary>What every scenario does around its own measurement: repetitions of its modes, a baseline, and its results written out.</summary>
internal static class ScenarioRuns
{
    /// <summary>Calibrates the CPU work, then runs every mode once per repetition, in order, saying what runs.</summary>
    public static async Task<IReadOnlyList<T>> RepeatAsync<T>(IReadOnlyList<Mode> modes, LoadTestOptions options, IAnsiConsole console, Func<Mode, string> describe, Func<Mode, int, Task<T>> run)
    {
        double rate = Server.CpuWork.Calibrate();
        console.MarkupLine($"CPU work calibrated: {rate:F0} iterations per millisecond.");
        var results = new List<T>();
        for (int repetition = 1; repetition <= options.Repetitions; repetition++)
        {
            foreach (Mode mode in modes)
            {
                console.MarkupLine($"[grey]{DateTime.Now:HH:mm:ss}[/] repetition {repetition}/{options.Repetitions}, [bold]{Markup.Escape(describe(mode))}[/]");
                results.Add(await run(mode, repetition));
            }
        }

        return results;
    }

    /// <summary>The interactive endpoint's p99 alone, on a server of its own: the baseline a mode's run is compared with.</summary>
    public static async Task<double> BaselineP99Async(LoadTestOptions options, CancellationToken cancellationToken)
    {
        await using ServerProcess baseline = await ServerProcess.StartAsync(Mode.Baseline, cancellationToken);
        using HttpClient http = LoadDriver.CreateClient(baseline.Address);
        await LoadDriver.WarmUpAsync(http, "/report", cancellationToken);
        return (await LoadDriver.MeasureInteractiveAsync(http, options, cancellationToken)).Ms(99);
    }

    /// <summary>Writes <c>{name}.md</c> and <c>{name}.csv</c> to the output folder and prints the table, unwrapped.</summary>
    public static async Task WriteAsync(string name, string table, IEnumerable<string> csv, LoadTestOptions options, IAnsiConsole console, CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(options.OutputDirectory);
        await File.WriteAllTextAsync(Path.Combine(options.OutputDirectory, $"{name}.md"), table, cancellationToken);
        await File.WriteAllLinesAsync(Path.Combine(options.OutputDirectory, $"{name}.csv"), csv, cancellationToken);
        console.Profile.Out.Writer.WriteLine();
        console.Profile.Out.Writer.WriteLine(table);
        console.MarkupLine($"Results in [bold]{Markup.Escape(Path.GetFullPath(options.OutputDirectory))}[/].");
    }
}
