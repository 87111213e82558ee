using System.Collections.Concurrent;
using Bulkhead.Admission.Internal;
using Bulkhead.Pressure.Internal;
using Microsoft.Extensions.Time.Testing;

namespace Bulkhead.Tests.Reliability;

/// <summary>
/// Acquisitions racing reloads, as an attacker would drive them: 24 workers try, queue, wait in the background, cancel
/// and release across four classes (partitions and weights) while the configuration changes every 1–8 ms (limits, a
/// class removed and added back, Enforce and Observe, adaptive protection on and off, Shed rules and queue delay
/// control come and go) and pressure holds (shed, a limit growing back, freed) change every 1–8 ms. Once the workers stop and a last
/// reload restores every class, the engine must be quiet: nothing in flight or queued, no shared seat in use, and (in
/// Enforce) every admission the engine counted is a lease a caller received.
/// </summary>
/// <remarks>Runs for <c>BULKHEAD_STRESS_SECONDS</c> (default 3) of real time per case; queue timeouts run on a fake clock advanced by a thread of its own.</remarks>
public sealed class ReloadRaceStressTests
{
    private static readonly string[] Classes = ["interactive", "reporting", "batch", "extra"];

    [Theory]
    [InlineData(false, false)]
    [InlineData(true, false)]
    [InlineData(false, true)]
    [InlineData(true, true)]
    public async Task AcquisitionsRacingReloads_LeaveNoSeatBehind(bool observe, bool systemClock)
    {
        // On the system clock queue timeouts and adaptive protection's ticks run on timer threads of their own, racing
        // grants and reloads (the landed code's test host died there: a tick met a class a reload had just added).
        TimeSpan duration = TimeSpan.FromSeconds(int.TryParse(Environment.GetEnvironmentVariable("BULKHEAD_STRESS_SECONDS"), out int seconds) ? seconds : 3);
        var time = new FakeTimeProvider();
        using var scheduler = new WorkloadScheduler(Options(new Random(1), observe, full: true), systemClock ? TimeProvider.System : time);
        var outcomes = new ConcurrentDictionary<string, long>(StringComparer.Ordinal);
        long acquired = 0;
        long reloads = 0;
        long pressures = 0;
        using var stop = new CancellationTokenSource();

        void Count(string outcome) => outcomes.AddOrUpdate(outcome, 1, (_, n) => n + 1);

        var every = new EveryClassState(scheduler);

        async Task Worker(int seed)
        {
            var random = new Random(seed);
            while (!stop.IsCancellationRequested)
            {
                string name = Classes[random.Next(Classes.Length)];
                string? partition = random.Next(3) == 0 ? null : $"tenant-{random.Next(6)}";
                int weight = random.Next(5) == 0 ? random.Next(2, 4) : 1;
                using var cancel = new CancellationTokenSource();
                WorkloadLease lease;
                try
                {
                    WorkloadClass handle = scheduler.TryGetClass(name, out WorkloadClass? found) ? found : scheduler.DefaultClass;
                    string costKey = $"kind-{random.Next(3)}";
                    ValueTask<WorkloadLease> asking = random.Next(6) switch
                    {
                        0 => new ValueTask<WorkloadLease>(handle.TryAcquire(new WorkloadRequest(partition) { Weight = weight })),
                        1 => handle.AcquireAsync(new WorkloadRequest(partition) { Weight = weight, Background = true }, cancel.Token),
                        2 => handle.AcquireAsync(new WorkloadRequest(partition) { CostKey = costKey }, cancel.Token),
                        3 => handle.AcquireAsync(new WorkloadRequest(partition) { CostKey = costKey, Background = true }, cancel.Token),
                        _ => handle.AcquireAsync(new WorkloadRequest(partition) { Weight = weight }, cancel.Token),
                    };
                    if (random.Next(3) == 0)
                    {
                        // The caller gives up while (perhaps) queued, racing its grant.
                        _ = Task.Run(cancel.Cancel);
                    }

                    lease = await asking;
                }
                catch (OperationCanceledException)
                {
                    Count("canceled");
                    continue;
                }

                if (!lease.IsAcquired)
                {
                    Count("rejected");
                    if (lease.RejectionReason == WorkloadRejectionReason.Shed)
                    {
                        Count("rejected as shed");
                    }

                    continue;
                }

                Interlocked.Increment(ref acquired);
                WorkloadClass holder = scheduler.TryGetClass(lease.WorkloadClass, out WorkloadClass? h) ? h : scheduler.DefaultClass;
                try
                {
                    // The work runs under its class (its execution timeout, its threads), and ends its lease.
                    await holder.ExecuteAsync(lease, static async (yields, _) => { if ((bool)yields!) { await Task.Yield(); } }, random.Next(2) == 0, CancellationToken.None);
                }
                catch (ArgumentException)
                {
                    // The lease's class was removed and added back meanwhile: another handle.
                    lease.Dispose();
                }

                if (random.Next(8) == 0)
                {
                    lease.Dispose();                                                            // twice: frees nothing
                }
            }
        }

        async Task Clock()
        {
            while (!stop.IsCancellationRequested && !systemClock)
            {
                time.Advance(TimeSpan.FromMilliseconds(2));
                await Task.Delay(1);
            }
        }

        async Task Reloader()
        {
            var random = new Random(7);
            while (!stop.IsCancellationRequested)
            {
                scheduler.Apply(Options(random, observe, full: false));
                Interlocked.Increment(ref reloads);
                every.Remember();
                await Task.Delay(random.Next(1, 9));
            }
        }

        // As the pressure monitor does, racing the reloads and the workers: classes with a Shed rule shed, held to a
        // limit growing back, or freed (the last reload below takes every rule away, which frees them all).
        async Task Presser()
        {
            var random = new Random(11);
            while (!stop.IsCancellationRequested)
            {
                var holds = new Dictionary<string, PressureHold>(StringComparer.OrdinalIgnoreCase);
                foreach (string name in Classes.Where(_ => random.Next(3) == 0))
                {
                    holds[name] = new PressureHold(random.Next(2) == 0 ? WorkloadPressureSignal.Cpu : WorkloadPressureSignal.Memory, random.Next(0, 4));
                }

                scheduler.Engine.SetPressureHolds(holds);
                Interlocked.Increment(ref pressures);
                await Task.Delay(random.Next(1, 9));
            }

            // The pressure eases: background work that waited for a shed class to be admitted again starts, and its
            // worker ends.
            scheduler.Engine.SetPressureHolds(new Dictionary<string, PressureHold>());
        }

        // Stops after the duration once the race has been run enough (a busy machine reloads and acquires more slowly:
        // the amount of racing, not its speed, is what the test needs).
        async Task Stopper()
        {
            try
            {
                await Task.Delay(duration);
                await Eventually.TrueAsync(
                    () => Interlocked.Read(ref reloads) > 100 && Interlocked.Read(ref acquired) > 1_000 && outcomes.ContainsKey("canceled") && outcomes.ContainsKey("rejected"),
                    "enough reloads, admissions, cancellations and rejections",
                    TimeSpan.FromMinutes(2));
            }
            finally
            {
                await stop.CancelAsync();
            }
        }

        Task[] running = [Stopper(), Clock(), Reloader(), Presser(), .. Enumerable.Range(0, 24).Select(i => Task.Run(() => Worker(i)))];
        await Task.WhenAll(running).WaitAsync(duration + TimeSpan.FromMinutes(3));

        // Background waits of classes whose limits fell may still wait: the last reload gives every class room again,
        // and they are served; the clock ends whatever still waits on a timeout.
        scheduler.Apply(Options(new Random(1), observe, full: true));
        every.Remember();
        time.Advance(TimeSpan.FromSeconds(10));
        await Eventually.TrueAsync(() => scheduler.GetSnapshot().Classes.All(c => c.Queued == 0), "every wait has ended");

        WorkloadSnapshot snapshot = scheduler.GetSnapshot();
        string seen = $"{Interlocked.Read(ref reloads)} reloads, {Interlocked.Read(ref pressures)} pressure holds; callers: acquired {acquired}, {string.Join(", ", outcomes.Select(o => $"{o.Key} {o.Value}"))}; engine: admitted {every.All.Sum(c => c.Admitted)} in {every.All.Length} class states, "
            + string.Join(", ", snapshot.Classes.Select(c => $"{c.Name} inFlight {c.InFlight} queued {c.Queued}")) + $", sharedInUse {scheduler.Engine.SharedInUse}";
        Assert.True(snapshot.Classes.All(c => c.InFlight == 0 && c.Queued == 0), seen);
        Assert.True(scheduler.Engine.SharedInUse == 0, seen);
        if (!observe)
        {
            Assert.True(acquired == every.All.Sum(c => c.Admitted), seen);
        }

        Assert.True(acquired > 1_000 && outcomes.ContainsKey("canceled") && outcomes.ContainsKey("rejected"), seen);
        Assert.True(Interlocked.Read(ref reloads) > 100, seen);

        // The pressure holds raced the rest: callers were refused as shed.
        Assert.True(outcomes.ContainsKey("rejected as shed"), seen);
    }

    /// <summary>A random configuration; <paramref name="full"/> gives every class (and the host) its widest limits.</summary>
    private static WorkloadIsolationOptions Options(Random random, bool observe, bool full)
    {
        int total = full ? 16 : random.Next(6, 17);
        var options = new WorkloadIsolationOptions { TotalConcurrency = total, DefaultClass = "interactive", MaxTrackedPartitions = 4 };
        options.Adaptive.Enabled = !full && random.Next(2) == 0;
        options.Adaptive.Window = TimeSpan.FromMilliseconds(20);
        options.Adaptive.MinSamples = 5;
        options.AddClass("interactive", c =>
        {
            c.ReservedConcurrency = full ? 2 : random.Next(0, 3);
            c.QueueLimit = 20;
            c.QueueTimeout = TimeSpan.FromMilliseconds(40);
            c.Objective = new WorkloadObjectiveOptions { QueueWaitP99 = TimeSpan.FromMilliseconds(5) };
        });
        bool Kept() => full || random.Next(4) != 0;
        if (Kept())
        {
            options.AddClass("reporting", c =>
        {
            c.Priority = 2;
            c.MaxConcurrency = full ? total : random.Next(1, total + 1);
            c.MaxConcurrencyPerPartition = full ? null : random.Next(2) == 0 ? null : random.Next(1, 4);
            c.QueueLimit = 10;
            c.QueueTimeout = TimeSpan.FromMilliseconds(random.Next(10, 60));
            c.RateLimit = full || random.Next(2) == 0 ? null : new WorkloadRateLimitOptions { PermitsPerSecond = 2_000, Burst = random.Next(5, 50), PerPartition = random.Next(2) == 0 };
            c.LearnedWeight = full || random.Next(2) == 0 ? null : new WorkloadLearnedWeightOptions { SeatTime = TimeSpan.FromMilliseconds(1), MaxWeight = 2 };
            (c.Execution ??= new WorkloadExecutionOptions()).Timeout = full || random.Next(2) == 0 ? null : TimeSpan.FromMilliseconds(5);
            c.Shed = full || random.Next(4) == 0 ? null : new WorkloadShedOptions { CpuAbove = 1.0 };
        });
        }

        if (Kept())
        {
            options.AddClass("batch", c =>
        {
            c.Priority = 3;
            c.ReservedConcurrency = full ? 1 : random.Next(0, 2);
            c.MaxConcurrency = full ? total : random.Next(1, total + 1);
            c.QueueLimit = 5;
            c.QueueOrder = WorkloadQueueOrder.Lifo;
            c.QueueTimeout = TimeSpan.FromMilliseconds(30);
            c.Shed = full || random.Next(4) == 0 ? null : new WorkloadShedOptions { MemoryAbove = 1.0 };
        });
        }

        if (full || random.Next(3) != 0)
        {
            options.AddClass("extra", c =>
            {
                c.Priority = 1;
                c.MaxConcurrency = full ? total : random.Next(1, 4);
                c.QueueLimit = 3;
                c.QueueTimeout = TimeSpan.FromMilliseconds(20);
                c.QueueDelay = full || random.Next(2) == 0 ? null : new WorkloadQueueDelayOptions { Target = TimeSpan.FromMilliseconds(4), Interval = TimeSpan.FromMilliseconds(10) };
                c.Shed = full || random.Next(2) == 0 ? null : new WorkloadShedOptions { CpuAbove = 1.0, MemoryAbove = 1.0 };
            });
        }

        if (observe)
        {
            options.Mode = !full && random.Next(2) == 0 ? WorkloadIsolationMode.Observe : WorkloadIsolationMode.Enforce;
            foreach (WorkloadClassOptions c in options.Classes.Values)
            {
                c.Mode = full ? null : random.Next(4) switch { 0 => WorkloadIsolationMode.Observe, 1 => WorkloadIsolationMode.Enforce, _ => null };
            }
        }

        return options;
    }
}
