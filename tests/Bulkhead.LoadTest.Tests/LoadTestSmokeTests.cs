using Bulkhead.LoadTest.HotTenant;
using Spectre.Console;

namespace Bulkhead.LoadTest.Tests;

/// <summary>
/// Runs the isolation load test in a tiny configuration: every mode's server starts in its own process, is loaded,
/// and is reported. No timing is asserted: speed is what the load test itself measures.
/// </summary>
public sealed class LoadTestSmokeTests
{
    /// <summary>Every scenario's tiny form: half-second phases, a slow interactive rate, two report clients, one repetition.</summary>
    private static readonly LoadTestOptions Tiny = new()
    {
        Duration = TimeSpan.FromSeconds(0.5),
        Settle = TimeSpan.FromSeconds(0.5),
        InteractiveRate = 20,
        ReportClients = 2,
        Repetitions = 1,
    };

    [Fact]
    public async Task TinyRun_CompletesAndReportsEveryMode()
    {
        await RunAsync(Tiny, async (options, output) =>
        {
            string table = await File.ReadAllTextAsync(Path.Combine(output, "results.md"));
            foreach (Mode mode in options.Modes)
            {
                Assert.Contains($"| {Reporting.ResultsTable.Describe(mode)} |", table, StringComparison.Ordinal);
            }

            string[] phases = await File.ReadAllLinesAsync(Path.Combine(output, "phases.csv"));
            Assert.Equal(1 + (options.Modes.Count * 2), phases.Length);
            Assert.True(new FileInfo(Path.Combine(output, "isolation.svg")).Length > 0);
        });
    }

    [Theory]
    [InlineData(false, 0)]
    [InlineData(true, 0)]
    [InlineData(false, 2)]
    public async Task TinyCostStep_RunsEveryModeAndReportsBothHalves(bool downstream, int threads)
    {
        LoadTestOptions tiny = Tiny with { Scenario = Scenario.CostStep, CostStepThreads = threads };
        await RunAsync(downstream ? tiny.WithCostStepDownstream() : tiny, async (options, output) =>
        {
            string name = CostStep.CostStepRunner.FileName(options);
            string table = await File.ReadAllTextAsync(Path.Combine(output, $"{name}.md"));
            foreach (Mode mode in options.CostStepModes)
            {
                Assert.Contains($"| {CostStep.CostStepRunner.Describe(mode, options)} |", table, StringComparison.Ordinal);
            }

            string[] runs = await File.ReadAllLinesAsync(Path.Combine(output, $"{name}.csv"));
            Assert.Equal(1 + options.CostStepModes.Count, runs.Length);
            Assert.All(runs.Skip(1), run =>
            {
                string[] fields = run.Split(',');
                Assert.All(fields[2..6], value => Assert.True(double.Parse(value, System.Globalization.CultureInfo.InvariantCulture) > 0, run));

                // Reports per second in each half. On threads of their own at idle priority, reports run only when
                // nothing else on the machine wants the CPU: on a shared machine a tiny run may see none finish, which
                // is the isolation working. On the ThreadPool they must have run.
                Assert.All(fields[6..8], value => Assert.True(double.Parse(value, System.Globalization.CultureInfo.InvariantCulture) is var rate && (threads > 0 ? rate >= 0 : rate > 0), run));
                Assert.True(int.Parse(fields[8], System.Globalization.CultureInfo.InvariantCulture) >= 1, run);

                // The threads the server's reporting class ran on, read from its snapshot: the variant asked for.
                Assert.Equal(threads, int.Parse(fields[^1], System.Globalization.CultureInfo.InvariantCulture));
            });
            Assert.True(new FileInfo(Path.Combine(output, $"{name}.svg")).Length > 0);
        });
    }

    [Fact]
    public async Task TinyAdminStorm_AccountsForEveryAdminCallOfEveryMode()
    {
        await RunAsync(Tiny with { Scenario = Scenario.AdminStorm, AdminStormCalls = 40 }, async (options, output) =>
        {
            string table = await File.ReadAllTextAsync(Path.Combine(output, "admin-storm.md"));
            foreach (Mode mode in options.AdminStormModes)
            {
                Assert.Contains($"| {AdminStorm.AdminStormRunner.Describe(mode)} |", table, StringComparison.Ordinal);
            }

            string[] runs = await File.ReadAllLinesAsync(Path.Combine(output, "admin-storm.csv"));
            Assert.Equal(1 + options.AdminStormModes.Count, runs.Length);
            Assert.All(runs.Skip(1), run =>
            {
                int[] outcomes = [.. run.Split(',')[5..9].Select(v => int.Parse(v, System.Globalization.CultureInfo.InvariantCulture))];
                Assert.Equal(options.AdminStormCalls, outcomes.Sum());
                Assert.True(double.Parse(run.Split(',')[4], System.Globalization.CultureInfo.InvariantCulture) > 0, run);
            });

            // Bulkhead refuses what its admin queue cannot take with 503 and a Retry-After.
            string bulkhead = Assert.Single(runs, r => r.StartsWith("AdminBulkhead,", StringComparison.Ordinal));
            Assert.True(int.Parse(bulkhead.Split(',')[6], System.Globalization.CultureInfo.InvariantCulture) > 0, bulkhead);
        });
    }

    [Fact]
    public async Task TinyHotTenant_MeasuresEveryTenantOfEveryMode_AloneAndWithTheHotTenant()
    {
        await RunAsync(Tiny with { Scenario = Scenario.HotTenant, Duration = TimeSpan.FromSeconds(1) }, async (options, output) =>
        {
            string table = await File.ReadAllTextAsync(Path.Combine(output, "hot-tenant.md"));
            foreach (Mode mode in options.HotTenantModes)
            {
                Assert.Contains($"| {HotTenant.HotTenantRunner.Describe(mode)} |", table, StringComparison.Ordinal);
            }

            // Per mode: nine quiet tenants alone, then nine and the hot one; every tenant was answered.
            string[] rows = await File.ReadAllLinesAsync(Path.Combine(output, "hot-tenant.csv"));
            Assert.Equal(1 + (options.HotTenantModes.Count * 19), rows.Length);
            Assert.All(rows.Skip(1), row => Assert.True(double.Parse(row.Split(',')[7], System.Globalization.CultureInfo.InvariantCulture) > 0, row));
        });
    }

    [Fact]
    public void JainsIndex_IsOneForMaxMinFairShares_AndFallsWhenTheHotTenantTakesTheQuietOnesShare()
    {
        // Capacity 30: quiet tenants asking 5 each are owed 5; the hot one the rest (20).
        TenantStats[] fair = [new("q1", false, 5, 5, 0, 1), new("q2", false, 5, 5, 0, 1), new("hot", true, 50, 20, 0, 1)];
        TenantStats[] unfair = [new("q1", false, 5, 1, 0, 1), new("q2", false, 5, 1, 0, 1), new("hot", true, 50, 28, 0, 1)];

        Assert.Equal(1, HotTenant.HotTenantRunner.Jain(fair), 6);
        Assert.InRange(HotTenant.HotTenantRunner.Jain(unfair), 0.3, 0.6);
    }

    [Fact]
    public async Task TinyStarvation_RunsEveryModeAfterItsBaseline()
    {
        await RunAsync(Tiny with { Scenario = Scenario.Starvation }, (options, output) =>
            AssertEveryModeMeasuredAsync(output, "starvation", options.StarvationModes, Starvation.StarvationRunner.Describe, 2..6));
    }

    [Fact]
    public async Task TinyPressure_RunsTheShedModesAfterTheirBaselines_TheMemoryOneUnderAHeapLimit()
    {
        // The two Shed modes (the others are the same server with less configured): each measured its baseline and the
        // flooded p99, and the memory one's server ran with its heap limit and lived.
        LoadTestOptions tiny = Tiny with { Scenario = Scenario.Pressure, PressureModes = [Mode.MemoryBulkheadShed, Mode.CpuShed] };
        await RunAsync(tiny, async (options, output) =>
        {
            await AssertEveryModeMeasuredAsync(output, "pressure", options.PressureModes, Pressure.PressureRunner.Describe, 2..5);
            Assert.All((await File.ReadAllLinesAsync(Path.Combine(output, "pressure.csv"))).Skip(1), run => Assert.EndsWith(",False", run, StringComparison.Ordinal));
        });
    }

    [Fact]
    public async Task TinyWeighted_RunsEveryModeAfterItsBaseline()
    {
        // Every mode measured its baseline, the flooded p99 and the reports served.
        await RunAsync(Tiny with { Scenario = Scenario.Weighted }, (options, output) =>
            AssertEveryModeMeasuredAsync(output, "weighted", options.WeightedModes, Weighted.WeightedRunner.Describe, 2..5));
    }

    [Fact]
    public async Task TinySharedDownstream_RunsEveryModeAfterItsBaseline_AgainstADependencyInAProcessOfItsOwn()
    {
        // Every mode measured its baseline, the flooded p99 and the reports served through the dependency.
        await RunAsync(Tiny with { Scenario = Scenario.SharedDownstream }, (options, output) =>
            AssertEveryModeMeasuredAsync(output, "shared-downstream", options.SharedDownstreamModes, SharedDownstream.SharedDownstreamRunner.Describe, 2..5));
    }

    [Fact]
    public async Task TinyTwoServices_RunsEveryModeAfterItsBaseline_AgainstABackServiceInAProcessOfItsOwn()
    {
        // Every mode measured its baseline, the flooded p99 at the user and the reports served through the back service.
        await RunAsync(Tiny with { Scenario = Scenario.TwoServices }, (options, output) =>
            AssertEveryModeMeasuredAsync(output, "two-services", options.TwoServicesModes, TwoServices.TwoServicesRunner.Describe, 2..5));
    }

    /// <summary>A scenario's table has a row per mode, and its CSV a run per mode whose figures in <paramref name="figures"/> are all positive.</summary>
    private static async Task AssertEveryModeMeasuredAsync(string output, string name, IReadOnlyList<Mode> modes, Func<Mode, string> describe, Range figures)
    {
        string table = await File.ReadAllTextAsync(Path.Combine(output, $"{name}.md"));
        foreach (Mode mode in modes)
        {
            Assert.Contains($"| {describe(mode)} |", table, StringComparison.Ordinal);
        }

        string[] runs = await File.ReadAllLinesAsync(Path.Combine(output, $"{name}.csv"));
        Assert.Equal(1 + modes.Count, runs.Length);
        Assert.All(runs.Skip(1), run => Assert.All(run.Split(',')[figures], value => Assert.True(double.Parse(value, System.Globalization.CultureInfo.InvariantCulture) > 0, run)));
    }

    [RedisFact]
    public async Task TinyFleet_MeasuresEveryModeOnARealRedis()
    {
        await RunAsync(Tiny with { Scenario = Scenario.Fleet }, async (options, output) =>
        {
            string table = await File.ReadAllTextAsync(Path.Combine(output, "fleet.md"));
            foreach (Fleet.FleetMode mode in Enum.GetValues<Fleet.FleetMode>())
            {
                Assert.Contains($"| {Fleet.FleetRunner.Describe(mode)} |", table, StringComparison.Ordinal);
            }

            string[] runs = await File.ReadAllLinesAsync(Path.Combine(output, "fleet.csv"));
            Assert.Equal(1 + Enum.GetValues<Fleet.FleetMode>().Length, runs.Length);
            Assert.All(runs.Skip(1), run => Assert.True(long.Parse(run.Split(',')[2], System.Globalization.CultureInfo.InvariantCulture) > 0, run));

            // Redis counted the scripts: none for local limits; some for a permit per call, fewer per admission when
            // batched (in so short a window a batched replica may not need Redis at all).
            Assert.StartsWith("Local,1,", runs[1], StringComparison.Ordinal);
            Assert.Equal("0", runs[1].Split(',')[4]);
            double PerAdmission(string run) => double.Parse(run.Split(',')[4], System.Globalization.CultureInfo.InvariantCulture) / double.Parse(run.Split(',')[2], System.Globalization.CultureInfo.InvariantCulture);
            string batched = Assert.Single(runs, r => r.StartsWith("FleetBatched,", StringComparison.Ordinal));
            string perCall = Assert.Single(runs, r => r.StartsWith("FleetPerAdmission,", StringComparison.Ordinal));
            Assert.True(PerAdmission(perCall) > 0.5, perCall);
            Assert.True(PerAdmission(batched) < PerAdmission(perCall), $"{batched} against {perCall}");

            // At the limit, refusals are answered on the replica: fewer round trips per admission than a call each
            // (the landed code asked again for every permit as it dripped in: 3.2 round trips per admission).
            string atLimit = Assert.Single(runs, r => r.StartsWith("FleetAtTheLimit,", StringComparison.Ordinal));
            Assert.True(long.Parse(atLimit.Split(',')[3], System.Globalization.CultureInfo.InvariantCulture) > 0, atLimit);
            Assert.True(PerAdmission(atLimit) < PerAdmission(perCall), $"{atLimit} against {perCall}");
        });
    }

    [RabbitMqFact]
    public async Task TinyConsumer_RunsEveryModeAfterItsBaseline_DrainingABacklogOffARealBroker()
    {
        // Every mode measured its baseline, the interactive p50 and p99, and the messages it drained (more than none).
        await RunAsync(Tiny with { Scenario = Scenario.Consumer }, (options, output) =>
            AssertEveryModeMeasuredAsync(output, "consumer", options.ConsumerModes, Consumer.ConsumerRunner.Describe, 2..6));
    }

    /// <summary>Runs the driver into a fresh folder, checks what it wrote, and removes the folder.</summary>
    private static async Task RunAsync(LoadTestOptions tiny, Func<LoadTestOptions, string, Task> check)
    {
        string output = Path.Combine(Path.GetTempPath(), $"bulkhead-loadtest-{Guid.NewGuid():N}");
        LoadTestOptions options = tiny with { OutputDirectory = output };
        var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(new StringWriter()) });
        try
        {
            int exitCode = await LoadTestCommand.RunDriverAsync(options, console, CancellationToken.None).WaitAsync(TimeSpan.FromMinutes(3));
            Assert.Equal(0, exitCode);
            await check(options, output);
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

/// <summary>A fact that needs a real redis-server: skipped, with the reason, when none is installed and none is required.</summary>
internal sealed class RedisFactAttribute : FactAttribute
{
    public RedisFactAttribute() => Skip = RedisServer.SkipReason;
}

/// <summary>A fact that needs Debian's rabbitmq-server: skipped, with the reason, when none is installed and none is required.</summary>
internal sealed class RabbitMqFactAttribute : FactAttribute
{
    public RabbitMqFactAttribute() => Skip = RabbitMqServer.SkipReason;
}
