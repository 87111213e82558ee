using System.Diagnostics;
using Bulkhead.LoadTest.Client;
using Spectre.Console;

namespace Bulkhead.LoadTest;

/// <summary>
/// Runs every flood mode, each right after its own baseline (these machines are noisy: the solo p99 alone moves from
/// run to run), and repeats the whole sequence.
/// </summary>
public static class LoadTestRunner
{
    public static async Task<IReadOnlyList<PhaseResult>> RunAsync(LoadTestOptions options, IAnsiConsole console, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(console);

        double rate = Server.CpuWork.Calibrate();
        console.MarkupLine($"CPU work calibrated: {rate:F0} iterations per millisecond.");
        var results = new List<PhaseResult>();
        int phases = options.Repetitions * options.Modes.Count * 2;
        TimeSpan perPhase = options.Duration + TimeSpan.FromSeconds(2);
        int done = 0;
        var clock = Stopwatch.StartNew();
        for (int repetition = 1; repetition <= options.Repetitions; repetition++)
        {
            foreach (Mode mode in options.Modes)
            {
                foreach (bool baseline in new[] { true, false })
                {
                    TimeSpan left = done == 0 ? perPhase * phases : clock.Elapsed / done * (phases - done);
                    console.MarkupLine($"[grey]{DateTime.Now:HH:mm:ss}[/] repetition {repetition}/{options.Repetitions}, "
                        + $"[bold]{(baseline ? "baseline before " : "")}{mode}[/], phase {done + 1}/{phases}, about {left.TotalSeconds:F0} s left");
                    await using ServerProcess server = await ServerProcess.StartAsync(baseline ? Mode.Baseline : mode, cancellationToken);
                    results.Add(await LoadDriver.RunAsync(server, mode, repetition, baseline, options, cancellationToken));
                    done++;
                }
            }
        }

        return results;
    }
}
