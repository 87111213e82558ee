using Spectre.Console;

namespace Bulkhead.LoadTest.Tests;

/// <summary>
/// Runs the isolation load test in a tiny configuration: every mode's server starts in its own process, is loaded,
/// and is reported. No timing is asserted: speed is what the load test itself measures.
/// </summary>
public sealed class LoadTestSmokeTests
{
    [Fact]
    public async Task TinyRun_CompletesAndReportsEveryMode()
    {
        string output = Path.Combine(Path.GetTempPath(), $"bulkhead-loadtest-{Guid.NewGuid():N}");
        var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(new StringWriter()) });
        var options = new LoadTestOptions
        {
            Duration = TimeSpan.FromSeconds(0.5),
            InteractiveRate = 20,
            ReportClients = 2,
            Repetitions = 1,
            OutputDirectory = output,
        };

        try
        {
            int exitCode = await LoadTestCommand.RunDriverAsync(options, console, CancellationToken.None).WaitAsync(TimeSpan.FromMinutes(3));

            Assert.Equal(0, exitCode);
            string table = await File.ReadAllTextAsync(Path.Combine(output, "results.md"));
            foreach (Mode mode in options.Modes)
            {
                Assert.Contains($"| {Reporting.ResultsTable.Describe(mode)} |", table, StringComparison.Ordinal);
            }

            string[] phases = await File.ReadAllLinesAsync(Path.Combine(output, "phases.csv"));
            Assert.Equal(1 + (options.Modes.Count * 2), phases.Length);
            Assert.True(new FileInfo(Path.Combine(output, "isolation.svg")).Length > 0);
        }
        finally
        {
            if (Directory.Exists(output))
            {
                Directory.Delete(output, recursive: true);
            }
        }
    }

    [Fact]
    public async Task TinyCostStep_RunsEveryModeAndReportsBothHalves()
    {
        string output = Path.Combine(Path.GetTempPath(), $"bulkhead-coststep-{Guid.NewGuid():N}");
        var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(new StringWriter()) });
        var options = new LoadTestOptions
        {
            Scenario = Scenario.CostStep,
            Duration = TimeSpan.FromSeconds(0.5),
            Settle = TimeSpan.FromSeconds(0.5),
            InteractiveRate = 20,
            ReportClients = 2,
            Repetitions = 1,
            OutputDirectory = output,
        };

        try
        {
            int exitCode = await LoadTestCommand.RunDriverAsync(options, console, CancellationToken.None).WaitAsync(TimeSpan.FromMinutes(3));

            Assert.Equal(0, exitCode);
            string table = await File.ReadAllTextAsync(Path.Combine(output, "cost-step.md"));
            foreach (Mode mode in options.CostStepModes)
            {
                Assert.Contains($"| {CostStep.CostStepRunner.Describe(mode, options)} |", table, StringComparison.Ordinal);
            }

            string[] runs = await File.ReadAllLinesAsync(Path.Combine(output, "cost-step.csv"));
            Assert.Equal(1 + options.CostStepModes.Count, runs.Length);
            Assert.All(runs.Skip(1), run =>
            {
                string[] fields = run.Split(',');
                Assert.All(fields[2..8], value => Assert.True(double.Parse(value, System.Globalization.CultureInfo.InvariantCulture) > 0, run));
                Assert.True(int.Parse(fields[8], System.Globalization.CultureInfo.InvariantCulture) >= 1, run);
            });
            Assert.True(new FileInfo(Path.Combine(output, "cost-step.svg")).Length > 0);
        }
        finally
        {
            if (Directory.Exists(output))
            {
                Directory.Delete(output, recursive: true);
            }
        }
    }
}
