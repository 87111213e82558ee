using Bulkhead.Admission.Internal;
using Bulkhead.Pressure.Internal;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;

namespace Bulkhead.Tests.Pressure;

/// <summary>
/// Classes shed under pressure, on fake time with a probe whose readings the test chooses: a class at or above its
/// threshold gives no seat, its waiting work is rejected and its background work waits; it is admitted again once the
/// signal falls the hysteresis below its threshold; lower thresholds shed first; reloads decide again at once.
/// </summary>
/// <remarks>
/// White-box: the test replaces the monitor's probe (its readings) and sets pressure holds on the engine directly, which
/// the public API cannot; what it asserts is read through the public snapshot, handles and leases.
/// </remarks>
public sealed class ShedTests
{
    private static readonly TimeSpan Interval = TimeSpan.FromSeconds(1);

    [Fact]
    public async Task AtItsCpuThreshold_AClassIsShed_UntilCpuFallsTheHysteresisBelowIt()
    {
        using var host = new Host(Options());
        WorkloadClass reporting = host.Scheduler.GetClass("reporting");
        WorkloadLease running = reporting.TryAcquire();
        WorkloadLease second = reporting.TryAcquire();
        Assert.True(running.IsAcquired && second.IsAcquired);
        Task<WorkloadLease> waiting = reporting.AcquireAsync().AsTask();
        Task<WorkloadLease> background = reporting.AcquireAsync(new WorkloadRequest { Background = true }).AsTask();
        Assert.Equal(2, host.Scheduler.GetSnapshot()["reporting"].Queued);

        // Below the threshold: nothing changes.
        host.Read(cpu: 0.79);
        Assert.Null(host.Scheduler.GetSnapshot()["reporting"].ShedBy);

        // At it: the class gives no seat, its waiting work leaves rejected, its background work waits on.
        host.Read(cpu: 0.80);
        WorkloadClassSnapshot shed = host.Scheduler.GetSnapshot()["reporting"];
        Assert.Equal((WorkloadPressureSignal?)WorkloadPressureSignal.Cpu, shed.ShedBy);
        Assert.Equal(0, shed.MaxConcurrency);
        Assert.Equal(WorkloadRejectionReason.Shed, (await waiting.WithTimeout()).RejectionReason);
        Assert.False(background.IsCompleted);
        Assert.Equal(WorkloadRejectionReason.Shed, reporting.TryAcquire().RejectionReason);
        Assert.Equal(WorkloadRejectionReason.Shed, (await reporting.AcquireAsync()).RejectionReason);
        Assert.Equal(3, host.Scheduler.GetSnapshot()["reporting"].RejectedByReason[WorkloadRejectionReason.Shed]);

        // Work already running keeps its seat; the seat it frees goes to nobody of the shed class.
        running.Dispose();
        Assert.False(background.IsCompleted);
        Assert.Equal(1, host.Scheduler.GetSnapshot()["reporting"].InFlight);

        // The other class is not shed: it takes the seats the shed class does not.
        using (WorkloadLease interactive = host.Scheduler.GetClass("interactive").TryAcquire())
        {
            Assert.True(interactive.IsAcquired);
        }

        // Below the threshold but not by the hysteresis (0.1): still shed.
        host.Read(cpu: 0.71);
        Assert.NotNull(host.Scheduler.GetSnapshot()["reporting"].ShedBy);
        Assert.False(background.IsCompleted);

        // The hysteresis below it: admitted again, at the work it still runs. Its limit grows back once a whole reading
        // was taken under it (not on the one that overlapped the change), and the background work that waited starts.
        host.Read(cpu: 0.69);
        WorkloadClassSnapshot back = host.Scheduler.GetSnapshot()["reporting"];
        Assert.Null(back.ShedBy);
        Assert.Equal(1, back.MaxConcurrency);
        Assert.False(background.IsCompleted);
        host.Read(cpu: 0.69);
        Assert.Equal(1, host.ReportingMax);
        host.Read(cpu: 0.69);
        Assert.Equal(2, host.ReportingMax);
        using WorkloadLease started = await background.WithTimeout();
        Assert.True(started.IsAcquired);
        second.Dispose();
        using WorkloadLease again = reporting.TryAcquire();
        Assert.True(again.IsAcquired);

        // Said once each way, with the measure and the threshold, and how the limit grows back.
        Assert.Single(host.Logs.Messages, m => m.Level == LogLevel.Warning && m.Message.Contains("'reporting' is shed under pressure: CPU utilization 80 % is at or above 80 %", StringComparison.Ordinal));
        Assert.Single(host.Logs.Messages, m => m.Level == LogLevel.Information && m.Message.Contains("'reporting' is admitted again: CPU utilization 69 %, memory load 0 %; its limit grows back from 1 to 2, by 1 a reading", StringComparison.Ordinal));
    }

    [Fact]
    public void LowerThresholdsShedFirst_AndMemoryIsNamedWhenBothSignalsShed()
    {
        using var host = new Host(Options(o =>
        {
            o.Classes["reporting"].Shed = new WorkloadShedOptions { CpuAbove = 0.9, MemoryAbove = 0.8 };
            o.AddClass("batch", c => { c.Priority = 3; c.Shed = new WorkloadShedOptions { MemoryAbove = 0.6 }; });
        }));

        host.Read(cpu: 0.5, memory: 0.65);
        Assert.Equal((null, WorkloadPressureSignal.Memory), Shed(host));

        host.Read(cpu: 0.95, memory: 0.85);
        Assert.Equal((WorkloadPressureSignal.Memory, WorkloadPressureSignal.Memory), Shed(host));

        // Memory eases; CPU still sheds reporting, and says so.
        host.Read(cpu: 0.95, memory: 0.3);
        Assert.Equal((WorkloadPressureSignal.Cpu, null), Shed(host));
        Assert.Null(host.Scheduler.GetSnapshot()["interactive"].ShedBy);

        static (WorkloadPressureSignal?, WorkloadPressureSignal?) Shed(Host host)
        {
            WorkloadSnapshot snapshot = host.Scheduler.GetSnapshot();
            return (snapshot["reporting"].ShedBy, snapshot["batch"].ShedBy);
        }
    }

    [Fact]
    public void WhileShedByMemory_EachReadingAsksTheGcToReclaimWhatDied()
    {
        // Memory that finished work freed stays counted until the GC collects it; while a class is shed little is
        // allocated to make it, so the monitor asks (the probe decides whether a collection is due).
        using var host = new Host(Options(o => o.Classes["reporting"].Shed = new WorkloadShedOptions { CpuAbove = 0.8, MemoryAbove = 0.7 }));
        host.Read(cpu: 0.9, memory: 0.5);
        Assert.Equal(0, host.Probe.Reclaims);
        host.Read(cpu: 0.5, memory: 0.75);
        host.Read(cpu: 0.5, memory: 0.7);
        Assert.Equal(2, host.Probe.Reclaims);
        Assert.Equal(TimeSpan.FromSeconds(1), host.Probe.ReclaimAfter);            // a second, or a reading if longer
        host.Read(cpu: 0.5, memory: 0.55);
        Assert.Null(host.Scheduler.GetSnapshot()["reporting"].ShedBy);
        host.Read(cpu: 0.5, memory: 0.55);
        Assert.Equal(2, host.Probe.Reclaims);
    }

    [Fact]
    public void AReload_DecidesAgainOnTheLastReading_AndTakingTheRuleAwayEndsTheShedding()
    {
        using var host = new Host(Options());
        host.Read(cpu: 0.85);
        Assert.NotNull(host.Scheduler.GetSnapshot()["reporting"].ShedBy);

        // A higher threshold is decided on at once, with its hysteresis: 0.85 is not 0.1 below 0.9, but is below 0.96.
        host.Scheduler.Apply(Options(o => o.Classes["reporting"].Shed!.CpuAbove = 0.9));
        Assert.NotNull(host.Scheduler.GetSnapshot()["reporting"].ShedBy);
        host.Scheduler.Apply(Options(o => o.Classes["reporting"].Shed!.CpuAbove = 0.96));
        Assert.Null(host.Scheduler.GetSnapshot()["reporting"].ShedBy);

        host.Scheduler.Apply(Options());
        Assert.NotNull(host.Scheduler.GetSnapshot()["reporting"].ShedBy);

        // No rule: not shed, and nothing is read any more.
        host.Scheduler.Apply(Options(o => o.Classes["reporting"].Shed = null));
        Assert.Null(host.Scheduler.GetSnapshot()["reporting"].ShedBy);
        Assert.Null(host.Scheduler.GetSnapshot().Pressure);
        int reads = host.Probe.Reads;
        host.Time.Advance(Interval * 5);
        Assert.Equal(reads, host.Probe.Reads);
        Assert.True(host.Scheduler.GetClass("reporting").TryAcquire().IsAcquired);
    }

    [Fact]
    public async Task OnceAdmittedAgain_ItsLimitGrowsBackAnEighth_UpToHalfOfWhatItRanWhenShed_ThenOneSeat_EveryOtherReading_OnlyWhileCalmAndUsed()
    {
        // A class of 16 seats whose work holds memory, shed while it runs 12 units and admitted again at the 3 it still
        // runs. Its limit grows by 2 seats (an eighth) up to 6 (half of 12), then by one, on a reading taken wholly
        // under the limit in force, while memory is the hysteresis below the threshold and the class uses its limit; a
        // reading between pauses it; one at the threshold sheds again.
        using var host = new Host(Options(o =>
        {
            o.TotalConcurrency = 20;
            o.Classes["reporting"].MaxConcurrency = 16;
            o.Classes["reporting"].Shed = new WorkloadShedOptions { MemoryAbove = 0.8 };
        }));
        WorkloadClass reporting = host.Scheduler.GetClass("reporting");
        List<WorkloadLease> running = [.. Enumerable.Range(0, 12).Select(_ => reporting.TryAcquire())];
        host.Read(cpu: 0, memory: 0.85);
        Assert.Equal(0, host.ReportingMax);
        running.Skip(3).ToList().ForEach(l => l.Dispose());
        running = running[..3];

        host.Read(cpu: 0, memory: 0.6);
        Assert.Equal(3, host.ReportingMax);
        List<Task<WorkloadLease>> waiting = [.. Enumerable.Range(0, 20).Select(_ => reporting.AcquireAsync(new WorkloadRequest { Background = true }).AsTask())];
        List<int> seen = [];
        foreach (double memory in (ReadOnlySpan<double>)[0.6, 0.6, 0.6, 0.75, 0.6, 0.6, 0.6, 0.6])
        {
            host.Read(cpu: 0, memory);
            seen.Add(host.ReportingMax);
        }

        Assert.Equal([3, 5, 5, 5, 6, 6, 7, 7], seen);

        // Shed again while it runs 7, and while growing back: once admitted again, it grows by 2 up to 3, then by one, and
        // each step waits for two calm readings in a row instead of one.
        host.Read(cpu: 0, memory: 0.8);
        Assert.Equal(0, host.ReportingMax);
        Assert.Equal((WorkloadPressureSignal?)WorkloadPressureSignal.Memory, host.Scheduler.GetSnapshot()["reporting"].ShedBy);

        // Calm again, with every seat wanted: from 1 to its configured 16, then free of pressure.
        foreach (Task<WorkloadLease> granted in waiting.Where(w => w.IsCompleted).ToList())
        {
            running.Add(await granted);
            waiting.Remove(granted);
        }

        Assert.Equal(7, running.Count);
        running.ForEach(l => l.Dispose());
        host.Read(cpu: 0, memory: 0.3);
        int admittedAt = host.ReportingMax;
        List<int> growth = [];
        while (host.ReportingMax < 16 && growth.Count < 60)
        {
            host.Read(cpu: 0, memory: 0.3);
            growth.Add(host.ReportingMax);
        }

        Assert.Equal(1, admittedAt);
        Assert.Equal([1, 1, 3, .. Enumerable.Range(3, 13).SelectMany(n => new[] { n, n, n + 1 })], growth);

        // Free of pressure again.
        Assert.Null(host.Scheduler.GetSnapshot()["reporting"].ShedBy);
        foreach (Task<WorkloadLease> granted in waiting)
        {
            (await granted.WithTimeout()).Dispose();
        }

    }

    [Fact]
    public async Task ShedAgainWhileGrowingBack_EachStepWaitsForTwiceAsLongACalm_UpTo16Readings_AndFreeOfPressureItForgets()
    {
        // A class of 16 seats with work always waiting: each time its next seat brings the pressure back, the next step
        // waits for twice as many calm readings in a row (1, 2, 4, 8, 16, 16), plus the reading taken as it settles.
        using var host = new Host(Options(o =>
        {
            o.TotalConcurrency = 20;
            o.Classes["reporting"].MaxConcurrency = 16;
        }));
        WorkloadClass reporting = host.Scheduler.GetClass("reporting");
        List<WorkloadLease> running = [reporting.TryAcquire()];
        host.Read(cpu: 0.9);
        List<Task<WorkloadLease>> waiting = [.. Enumerable.Range(0, 30).Select(_ => reporting.AcquireAsync(new WorkloadRequest { Background = true }).AsTask())];
        List<int> readings = [];
        for (int cycle = 0; cycle < 6; cycle++)
        {
            if (cycle > 0)
            {
                host.Read(cpu: 0.9);
            }

            Assert.Equal(0, host.ReportingMax);
            host.Read(cpu: 0.5);
            readings.Add(ReadingsToGrow(host));
            Assert.Equal(cycle + 2, host.ReportingMax);
        }

        Assert.Equal([2, 3, 5, 9, 17, 17], readings);

        // It grows back to its configured 16 and is free of pressure: shed again, it starts over, one calm reading a step.
        while (host.ReportingMax < 16)
        {
            ReadingsToGrow(host);
        }

        Assert.Null(host.Scheduler.GetSnapshot()["reporting"].ShedBy);
        host.Read(cpu: 0.9);
        foreach (Task<WorkloadLease> granted in waiting.Where(w => w.IsCompleted).ToList())
        {
            running.Add(await granted);
            waiting.Remove(granted);
        }

        running.ForEach(l => l.Dispose());
        host.Read(cpu: 0.5);
        Assert.Equal(1, host.ReportingMax);
        Assert.Equal(2, ReadingsToGrow(host));
        foreach (Task<WorkloadLease> granted in waiting)
        {
            (await granted.WithTimeout()).Dispose();
        }

        static int ReadingsToGrow(Host host)
        {
            int from = host.ReportingMax;
            int readings = 0;
            while (host.ReportingMax == from && readings < 100)
            {
                host.Read(cpu: 0.5);
                readings++;
            }

            return readings;
        }

    }

    [Fact]
    public void GrowingBack_ByAnEighthUpToHalfOfWhatRanWhenShed_ThenBySeats()
    {
        Assert.Equal([5, 9, 10, 11, 12], Steps(from: 1, step: 4, shedAt: 20, count: 5));
        Assert.Equal([2, 3, 4], Steps(from: 1, step: 4, shedAt: 2, count: 3));
        Assert.Equal([2, 3], Steps(from: 1, step: 4, shedAt: 1, count: 2));
        Assert.Equal([8, 9], Steps(from: 7, step: 4, shedAt: 12, count: 2));

        static List<int> Steps(int from, int step, int shedAt, int count)
        {
            List<int> limits = [];
            for (int max = from; limits.Count < count;)
            {
                max = PressureMonitor.Grown(max, step, shedAt);
                limits.Add(max);
            }

            return limits;
        }
    }

    [Fact]
    public void OnceAdmittedAgain_ALimitNothingUses_DoesNotGrow()
    {
        // No work comes after the class is admitted again: calm readings say nothing of its limit, which stays.
        using var host = new Host(Options());
        host.Read(cpu: 0.9);
        host.Read(cpu: 0.1);
        for (int i = 0; i < 5; i++)
        {
            host.Read(cpu: 0.1);
        }

        Assert.Equal(1, host.ReportingMax);

        // Work that uses it: it grows to its configured 2 after a whole reading so used.
        using WorkloadLease one = host.Scheduler.GetClass("reporting").TryAcquire();
        host.Read(cpu: 0.1);
        host.Read(cpu: 0.1);
        Assert.Equal(2, host.ReportingMax);
    }

    [Fact]
    public void ShedBySetDirectly_IgnoredForAClassWithoutARule()
    {
        // What a tick that decided before a reload took the rule away sends once the reload is done.
        using var host = new Host(Options(o => o.Classes["reporting"].Shed = null));
        host.Scheduler.Engine.SetPressureHolds(new Dictionary<string, PressureHold> { ["reporting"] = new(WorkloadPressureSignal.Cpu, 0) });
        Assert.Null(host.Scheduler.GetSnapshot()["reporting"].ShedBy);
        Assert.True(host.Scheduler.GetClass("reporting").TryAcquire().IsAcquired);
    }

    [Fact]
    public void NoClassSheds_NothingIsRead()
    {
        using var host = new Host(Options(o => o.Classes["reporting"].Shed = null));
        host.Time.Advance(Interval * 10);
        Assert.Equal(0, host.Probe.Reads);
        Assert.Null(host.Scheduler.GetSnapshot().Pressure);
    }

    [Fact]
    public void TheReading_IsInTheSnapshot()
    {
        using var host = new Host(Options());
        host.Read(cpu: 0.25, memory: 0.5);
        WorkloadPressureReading reading = host.Scheduler.GetSnapshot().Pressure!;
        Assert.Equal((0.25, 0.5, 2.0, 1L << 30), (reading.CpuUtilization, reading.MemoryLoad, reading.CpuCapacity, reading.MemoryLimitBytes));
        Assert.Equal(host.Time.GetUtcNow(), reading.ReadAt);
    }

    [Fact]
    public async Task InObserveMode_ShedWorkIsAdmitted_AndCountedAsEnforceWouldHaveRejectedIt()
    {
        using var host = new Host(Options(o => o.Classes["reporting"].Mode = WorkloadIsolationMode.Observe));
        host.Read(cpu: 0.9);
        WorkloadClass reporting = host.Scheduler.GetClass("reporting");
        using WorkloadLease tried = reporting.TryAcquire();
        using WorkloadLease waited = await reporting.AcquireAsync();
        Assert.True(tried.IsAcquired && waited.IsAcquired);
        Assert.Equal(2, host.Scheduler.GetSnapshot()["reporting"].RejectedByReason[WorkloadRejectionReason.Shed]);
    }

    [Fact]
    public void AProbeThatThrows_IsCaught_AndTheReadingsGoOn()
    {
        using var host = new Host(Options());
        host.Probe.Throw = true;
        host.Time.Advance(Interval);
        host.Probe.Throw = false;
        host.Read(cpu: 0.9);
        Assert.NotNull(host.Scheduler.GetSnapshot()["reporting"].ShedBy);
        Assert.Equal(1, host.Scheduler.Engine.TimerFaults.Count);
    }

    internal static WorkloadIsolationOptions Options(Action<WorkloadIsolationOptions>? configure = null)
    {
        var options = new WorkloadIsolationOptions { TotalConcurrency = 4, DefaultClass = "interactive" };
        options.Pressure.Interval = Interval;
        options.Pressure.Hysteresis = 0.1;
        options.AddClass("interactive", c => c.ReservedConcurrency = 1);
        options.AddClass("reporting", c =>
        {
            c.Priority = 2;
            c.MaxConcurrency = 2;
            c.Shed = new WorkloadShedOptions { CpuAbove = 0.8 };
        });
        configure?.Invoke(options);
        return options;
    }

    /// <summary>A scheduler on fake time whose pressure readings the test chooses.</summary>
    private sealed class Host : IDisposable
    {
        public Host(WorkloadIsolationOptions options)
        {
            Scheduler = new WorkloadScheduler(options, Time, logger: Logs.CreateLogger("Bulkhead"));
            Scheduler.Pressure.Probe = Probe;
        }

        public FakeTimeProvider Time { get; } = new();

        public ListLoggerProvider Logs { get; } = new();

        public FakeProbe Probe { get; } = new();

        public WorkloadScheduler Scheduler { get; }

        /// <summary>Gets the reporting class's limit in force (0 while shed).</summary>
        public int ReportingMax => Scheduler.GetSnapshot()["reporting"].MaxConcurrency;

        /// <summary>The next reading: one interval passes and the monitor reads these values.</summary>
        public void Read(double cpu, double memory = 0)
        {
            (Probe.Cpu, Probe.Memory) = (cpu, memory);
            int reads = Probe.Reads;
            Time.Advance(Interval);
            Assert.Equal(reads + 1, Probe.Reads);
        }

        public void Dispose() => Scheduler.Dispose();
    }

    internal sealed class FakeProbe() : PressureProbe(capacity: 2)
    {
        public double Cpu { get; set; }

        public double Memory { get; set; }

        public bool Throw { get; set; }

        public int Reads { get; private set; }

        public int Reclaims { get; private set; }

        public TimeSpan ReclaimAfter { get; private set; }

        public override void Reclaim(TimeSpan after)
        {
            Reclaims++;
            ReclaimAfter = after;
        }

        public override PressureSample Read()
        {
            if (Throw)
            {
                throw new InvalidOperationException("The probe failed.");
            }

            Reads++;
            return new PressureSample(Cpu, Memory, AllocatedBytesPerSecond: 0, CpuCapacity: 2, MemoryLimitBytes: 1L << 30);
        }
    }
}
