using Bulkhead.Admission.Internal;
using Microsoft.Extensions.Time.Testing;

namespace Bulkhead.Tests.Adaptive;

/// <summary>
/// Adaptive protection in a deterministic simulation on fake time: an interactive class states a seat-time objective,
/// reports saturate their class, and every report in flight slows interactive work down (as CPU contention does).
/// </summary>
public sealed class AdaptiveProtectionTests
{
    private static readonly TimeSpan Window = TimeSpan.FromSeconds(1);

    [Theory]
    [InlineData(WorkloadAdaptiveAlgorithm.Aimd)]
    [InlineData(WorkloadAdaptiveAlgorithm.Gradient)]
    public void SteadyLoad_TheLimitComesUnderTheObjectiveAndStaysInABandWithoutOscillating(WorkloadAdaptiveAlgorithm algorithm)
    {
        using var simulation = new Simulation(algorithm);

        // Twelve reports make interactive work take 11 ms; the objective is 10 ms.
        simulation.RunWindows(1);
        Assert.Equal(12, simulation.ReportingLimit);
        simulation.RunWindows(6);
        int settled = simulation.ReportingLimit;
        Assert.InRange(settled, 8, 10);
        Assert.True(Simulation.SeatTime(settled, 1) <= TimeSpan.FromMilliseconds(10), $"at {settled} reports interactive work takes {Simulation.SeatTime(settled, 1)}");

        // Thirty more windows of the same load: the limit holds still.
        List<int> limits = simulation.RunWindows(30);
        Assert.All(limits, limit => Assert.Equal(settled, limit));
    }

    [Theory]
    [InlineData(WorkloadAdaptiveAlgorithm.Aimd)]
    [InlineData(WorkloadAdaptiveAlgorithm.Gradient)]
    public void LoadStep_ShrinksTheLimitWithinFiveWindows_AndItRecoversAfter(WorkloadAdaptiveAlgorithm algorithm)
    {
        using var simulation = new Simulation(algorithm);
        simulation.RunWindows(10);
        int before = simulation.ReportingLimit;

        // Reports start costing twice as much: each one in flight slows interactive work twice as much.
        simulation.Cost = 2;
        List<int> during = simulation.RunWindows(5);
        Assert.True(during[^1] <= 5, $"after five windows the limit is {during[^1]} (from {before}): {string.Join(", ", during)}");
        Assert.True(Simulation.SeatTime(during[^1], 2) <= TimeSpan.FromMilliseconds(10), "the objective is kept");
        List<int> held = simulation.RunWindows(10);
        Assert.All(held, limit => Assert.Equal(during[^1], limit));

        // The step ends: the limit grows back, one step at a time, while the objective holds with headroom.
        simulation.Cost = 1;
        List<int> after = simulation.RunWindows(12);
        Assert.True(after[^1] >= before - 2, $"after twelve windows the limit is {after[^1]} (before the step: {before}): {string.Join(", ", after)}");
        Assert.True(after.Zip(after.Skip(1)).All(pair => pair.Second >= pair.First), "it grows without falling back");
    }

    [Fact]
    public void ThreadPoolObjective_DelaysInTheRuntimeShrinkTheLowerClass_AndItRecovers()
    {
        // No class states an objective: the process's ThreadPool delay protects the most important class.
        using var simulation = new Simulation(WorkloadAdaptiveAlgorithm.Aimd, threadPoolObjective: TimeSpan.FromMilliseconds(2));
        simulation.PoolDelay = reports => TimeSpan.FromMilliseconds(0.25 * reports);

        List<int> shrinking = simulation.RunWindows(8);
        Assert.True(shrinking[^1] <= 8, $"the limit is {shrinking[^1]}: {string.Join(", ", shrinking)}");
        Assert.True(simulation.Scheduler.Adaptive.ThreadPoolDelayP99 <= TimeSpan.FromMilliseconds(2.1));

        simulation.PoolDelay = _ => TimeSpan.FromMilliseconds(0.1);
        List<int> recovering = simulation.RunWindows(20);
        Assert.Equal(12, recovering[^1]);
    }

    [Fact]
    public void ThreadPoolObjective_TheSnapshotShowsItAndItsLastMeasure_UntilItIsSwitchedOff()
    {
        using var simulation = new Simulation(WorkloadAdaptiveAlgorithm.Aimd, threadPoolObjective: TimeSpan.FromMilliseconds(2));
        Assert.Equal(TimeSpan.FromMilliseconds(2), simulation.Snapshot.ThreadPoolDelayObjective);
        Assert.Null(simulation.Snapshot.MeasuredThreadPoolDelayP99);                     // no window has closed yet

        simulation.PoolDelay = _ => TimeSpan.FromMilliseconds(1.5);
        simulation.RunWindows(2);
        TimeSpan observed = simulation.Snapshot.MeasuredThreadPoolDelayP99 ?? throw new Xunit.Sdk.XunitException("nothing observed");
        Assert.InRange(observed.TotalMilliseconds, 1.45, 1.55);                            // buckets sixteen per doubling

        // Reloaded with a class objective instead: the process has no ThreadPool objective, and shows no measure of it.
        simulation.Scheduler.Apply(Simulation.Options(WorkloadAdaptiveAlgorithm.Aimd, enabled: true, reportingReserved: 0));
        Assert.Null(simulation.Snapshot.ThreadPoolDelayObjective);
        Assert.Null(simulation.Snapshot.MeasuredThreadPoolDelayP99);
    }

    [Fact]
    public void HeavyLoad_NeverTakesTheReservedSeats()
    {
        using var simulation = new Simulation(WorkloadAdaptiveAlgorithm.Aimd, reportingReserved: 3);
        simulation.Cost = 5;                                                   // three reports already miss the objective

        List<int> limits = simulation.RunWindows(25);

        Assert.All(limits, limit => Assert.True(limit >= 3, $"the limit fell to {limit}"));
        Assert.Equal(3, limits[^1]);
        Assert.Equal(3, simulation.ReportsInFlight);                           // the reserved seats still run reports
        WorkloadClassSnapshot reporting = simulation.Snapshot["reporting"];
        Assert.Equal((3, 12), (reporting.MaxConcurrency, reporting.ConfiguredMaxConcurrency));
        Assert.NotNull(simulation.Snapshot["interactive"].MeasuredSeatTimeP99);
    }

    [Fact]
    public void QuietProtectedClass_LetsTheLowerClassGrowBackToItsConfiguredLimit()
    {
        using var simulation = new Simulation(WorkloadAdaptiveAlgorithm.Aimd);
        simulation.Cost = 2;
        simulation.RunWindows(8);
        Assert.True(simulation.ReportingLimit < 12);

        simulation.Interactive = false;                                        // no interactive work: nothing to protect
        List<int> limits = simulation.RunWindows(30);

        Assert.True(limits[^1] == 12, string.Join(", ", limits) + string.Join("\n", simulation.Logs.Messages.Select(m => m.Message)));
        Assert.DoesNotContain("reporting", simulation.Scheduler.Adaptive.Limits.Keys);
    }

    [Fact]
    public void Disabled_TheLimitsStayConfigured_AndSwitchingItOffGivesThemBack()
    {
        using var off = new Simulation(WorkloadAdaptiveAlgorithm.Aimd, enabled: false);
        off.Cost = 2;
        Assert.All(off.RunWindows(10), limit => Assert.Equal(12, limit));

        using var on = new Simulation(WorkloadAdaptiveAlgorithm.Aimd);
        on.Cost = 2;
        on.RunWindows(8);
        Assert.True(on.ReportingLimit < 12);
        WorkloadIsolationOptions reloaded = Simulation.Options(WorkloadAdaptiveAlgorithm.Aimd, enabled: false, reportingReserved: 0);
        on.Scheduler.Apply(reloaded);
        Assert.Equal(12, on.ReportingLimit);
    }

    [Fact]
    public async Task QueueWaitObjective_QueueingInTheProtectedClassShrinksTheLowerClass()
    {
        var time = new FakeTimeProvider();
        var options = new WorkloadIsolationOptions { TotalConcurrency = 10, DefaultClass = "interactive" };
        options.Adaptive.Enabled = true;
        options.Adaptive.MinSamples = 20;
        options.AddClass("interactive", c => { c.MaxConcurrency = 1; c.Objective = new WorkloadObjectiveOptions { QueueWaitP99 = TimeSpan.FromMilliseconds(1) }; });
        options.AddClass("batch", c => { c.Priority = 3; c.MaxConcurrency = 8; });
        using var scheduler = new WorkloadScheduler(options, time);
        List<WorkloadLease> batch = [.. Enumerable.Range(0, 8).Select(_ => scheduler.TryAcquire("batch"))];

        // Every other interactive request waits 5 ms behind the one before it.
        for (int window = 0; window < 4; window++)
        {
            for (int i = 0; i < 30; i++)
            {
                WorkloadLease first = scheduler.TryAcquire("interactive");
                Task<WorkloadLease> second = scheduler.AcquireAsync("interactive").AsTask();
                time.Advance(TimeSpan.FromMilliseconds(5));
                first.Dispose();
                Assert.True(second.IsCompletedSuccessfully);
                (await second).Dispose();
                time.Advance(TimeSpan.FromMilliseconds(28));
            }
        }

        WorkloadClassSnapshot snapshot = scheduler.GetSnapshot()["batch"];
        Assert.True(snapshot.MaxConcurrency < 8, $"batch may still run {snapshot.MaxConcurrency}");
        Assert.Equal(8, snapshot.ConfiguredMaxConcurrency);
        Assert.Equal(8, snapshot.InFlight);                                    // work in flight finishes; none starts over the limit
        Assert.True(scheduler.GetSnapshot()["interactive"].MeasuredQueueWaitP99 >= TimeSpan.FromMilliseconds(5));
        batch.ForEach(lease => lease.Dispose());
    }

    /// <summary>
    /// Interactive work every 10 ms whose seat time is 5 ms × (1 + 0.1 × cost × reports in flight); reports of 50 ms
    /// that always fill every seat their class may use.
    /// </summary>
    private sealed class Simulation : IDisposable
    {
        private static readonly TimeSpan Step = TimeSpan.FromMilliseconds(10);
        private static readonly TimeSpan ReportLength = TimeSpan.FromMilliseconds(50);
        private readonly FakeTimeProvider _time = new();
        private readonly List<(DateTimeOffset End, WorkloadLease Lease)> _reports = [];

        public Simulation(WorkloadAdaptiveAlgorithm algorithm, bool enabled = true, int reportingReserved = 0, TimeSpan? threadPoolObjective = null)
        {
            WorkloadIsolationOptions options = Options(algorithm, enabled, reportingReserved);
            if (threadPoolObjective is { } objective)
            {
                options.Adaptive.ThreadPoolDelayP99 = objective;
                options.Classes["interactive"].Objective = null;
            }

            Scheduler = new WorkloadScheduler(options, _time, logger: Logs.CreateLogger("test"));
        }

        /// <summary>Gets or sets the ThreadPool delay a probe sees with so many reports in flight; none when null.</summary>
        public Func<int, TimeSpan>? PoolDelay { get; set; }

        public WorkloadScheduler Scheduler { get; }

        public ListLoggerProvider Logs { get; } = new();

        public double Cost { get; set; } = 1;

        public bool Interactive { get; set; } = true;

        public int ReportingLimit => Snapshot["reporting"].MaxConcurrency;

        public int ReportsInFlight => Snapshot["reporting"].InFlight;

        public WorkloadSnapshot Snapshot => Scheduler.GetSnapshot();

        public static TimeSpan SeatTime(int reports, double cost) => TimeSpan.FromMilliseconds(5 * (1 + (0.1 * cost * reports)));

        public static WorkloadIsolationOptions Options(WorkloadAdaptiveAlgorithm algorithm, bool enabled, int reportingReserved)
        {
            var options = new WorkloadIsolationOptions { TotalConcurrency = 16, DefaultClass = "interactive" };
            options.Adaptive.Enabled = enabled;
            options.Adaptive.Algorithm = algorithm;
            options.Adaptive.Window = Window;
            options.AddClass("interactive", c =>
            {
                c.ReservedConcurrency = 4;
                c.Objective = new WorkloadObjectiveOptions { SeatTimeP99 = TimeSpan.FromMilliseconds(10) };
            });
            options.AddClass("reporting", c => { c.Priority = 2; c.ReservedConcurrency = reportingReserved; c.MaxConcurrency = 12; });
            return options;
        }

        /// <summary>Runs whole windows; returns the reporting limit at the end of each.</summary>
        public List<int> RunWindows(int windows)
        {
            List<int> limits = [];
            for (int w = 0; w < windows; w++)
            {
                DateTimeOffset end = _time.GetUtcNow() + Window;
                while (_time.GetUtcNow() < end)
                {
                    RunStep();
                }

                limits.Add(ReportingLimit);
            }

            return limits;
        }

        public void Dispose()
        {
            foreach ((_, WorkloadLease lease) in _reports)
            {
                lease.Dispose();
            }

            Scheduler.Dispose();
        }

        private void RunStep()
        {
            DateTimeOffset now = _time.GetUtcNow();
            foreach ((DateTimeOffset end, WorkloadLease lease) in _reports.Where(r => r.End <= now).ToList())
            {
                lease.Dispose();
                _reports.RemoveAll(r => r.Lease == lease);
            }

            while (Scheduler.TryAcquire("reporting") is { IsAcquired: true } report)
            {
                _reports.Add((now + ReportLength, report));
            }

            if (PoolDelay is { } delay)
            {
                // What the probe would see every 5 ms of this step.
                Scheduler.Adaptive.RecordPoolDelay(delay(_reports.Count));
                Scheduler.Adaptive.RecordPoolDelay(delay(_reports.Count));
            }

            TimeSpan spent = TimeSpan.Zero;
            if (Interactive)
            {
                spent = SeatTime(_reports.Count, Cost);
                WorkloadLease lease = Scheduler.TryAcquire("interactive");
                Assert.True(lease.IsAcquired);
                _time.Advance(spent);
                lease.Dispose();
            }

            if (spent < Step)
            {
                _time.Advance(Step - spent);
            }
        }
    }
}
