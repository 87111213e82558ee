using System.Globalization;
using Bulkhead.Admission.Internal;
using Bulkhead.Queuing.Internal;
using Bulkhead.RateLimiting.Internal;
using Bulkhead.Tests.Admission;
using Microsoft.Extensions.Time.Testing;

namespace Bulkhead.Tests.Queuing;

/// <summary>Fair sharing between partitions (tenants) inside one saturated class.</summary>
public sealed class PartitionFairnessTests
{
    [Fact]
    public async Task NoisyTenantSendingTenTimesMore_GetsOnlyItsFairShare()
    {
        using WorkloadScheduler scheduler = SchedulerFactory.CreateWhiteBox(4, o => o.AddClass("reporting", c =>
        {
            c.QueueLimit = 10_000;
            c.QueueTimeout = Timeout.InfiniteTimeSpan;
        }));
        List<WorkloadLease> held = [.. Enumerable.Range(0, 4).Select(_ => scheduler.TryAcquire("reporting"))];
        var waiting = new List<(string Tenant, Task<WorkloadLease> Task)>();
        for (int round = 0; round < 20; round++)
        {
            for (int tenant = 1; tenant < 10; tenant++)
            {
                waiting.Add(($"tenant-{tenant}", scheduler.AcquireAsync("reporting", $"tenant-{tenant}").AsTask()));
            }

            for (int i = 0; i < 10; i++)
            {
                waiting.Add(("tenant-0", scheduler.AcquireAsync("reporting", "tenant-0").AsTask()));
            }
        }

        // Release the held work in steps of four: every step admits four waiters while all tenants still wait.
        var admitted = new Dictionary<string, int>();
        for (int step = 0; step < 25; step++)
        {
            foreach (WorkloadLease lease in held)
            {
                lease.Dispose();
            }

            held.Clear();
            foreach ((string tenant, Task<WorkloadLease> task) in waiting.Where(w => w.Task.IsCompleted).ToList())
            {
                held.Add(await task.WithTimeout());
                admitted[tenant] = admitted.GetValueOrDefault(tenant) + 1;
                waiting.Remove((tenant, task));
            }

            Assert.Equal(4, held.Count);
        }

        double[] shares = [.. Enumerable.Range(0, 10).Select(t => admitted.GetValueOrDefault($"tenant-{t}") / 100.0)];
        double jain = Math.Pow(shares.Sum(), 2) / (shares.Length * shares.Sum(x => x * x));
        Assert.All(shares, share => Assert.InRange(share, 0.09, 0.11));
        Assert.True(jain >= 0.95, string.Create(CultureInfo.InvariantCulture, $"Jain's fairness index {jain:F3} is below 0.95."));
        Cleanup(scheduler, held, waiting.Select(w => w.Task));
    }

    [Fact]
    public async Task Partitions_AreServedInTurnsInArrivalOrderOfTheirFirstWaiter()
    {
        using WorkloadScheduler scheduler = SchedulerFactory.CreateWhiteBox(1, o => o.AddClass("reporting"));
        WorkloadLease held = scheduler.TryAcquire("reporting");
        string[] arrivals = ["a", "a", "a", "b", "c", "c"];
        var waiting = arrivals.Select((tenant, i) => (Name: $"{tenant}{i}", Task: scheduler.AcquireAsync("reporting", tenant).AsTask())).ToList();

        var order = new List<string>();
        for (int i = 0; i < arrivals.Length; i++)
        {
            held.Dispose();
            (string name, Task<WorkloadLease> task) = waiting.Single(w => w.Task.IsCompleted);
            waiting.RemoveAll(w => w.Name == name);
            order.Add(name);
            held = await task.WithTimeout();
        }

        held.Dispose();
        Assert.Equal(["a0", "b3", "c4", "a1", "c5", "a2"], order);
    }

    [Fact]
    public async Task MaxConcurrencyPerPartition_CapsATenantWhileOthersUseTheFreeSeats()
    {
        using WorkloadScheduler scheduler = SchedulerFactory.CreateWhiteBox(4, o => o.AddClass("reporting", c => c.MaxConcurrencyPerPartition = 2));
        using WorkloadLease a1 = scheduler.TryAcquire("reporting", "a");
        WorkloadLease a2 = scheduler.TryAcquire("reporting", "a");
        ValueTask<WorkloadLease> a3 = scheduler.AcquireAsync("reporting", "a");

        using WorkloadLease b1 = scheduler.TryAcquire("reporting", "b");
        using WorkloadLease c1 = scheduler.TryAcquire("reporting", "c");

        Assert.True(a2.IsAcquired && b1.IsAcquired && c1.IsAcquired);
        Assert.False(a3.IsCompleted);
        Assert.Equal(WorkloadRejectionReason.QueueFull, scheduler.TryAcquire("reporting", "a").RejectionReason);
        a2.Dispose();
        using WorkloadLease third = await a3.WithTimeout();
        Assert.True(third.IsAcquired);
        Assert.Equal(4, scheduler.GetSnapshot()["reporting"].InFlight);
    }

    [Fact]
    public async Task PartitionAtItsLimit_WaitsOutOfTurnAndRejoinsAtTheEndOfTheRoundWhenItsSeatFrees()
    {
        using WorkloadScheduler scheduler = SchedulerFactory.CreateWhiteBox(2, o => o.AddClass("t", c =>
        {
            c.MaxConcurrencyPerPartition = 1;
            c.QueueTimeout = Timeout.InfiniteTimeSpan;
        }));
        WorkloadLease a = scheduler.TryAcquire("t", "a");
        WorkloadLease b = scheduler.TryAcquire("t", "b");
        Task<WorkloadLease> a1 = scheduler.AcquireAsync("t", "a").AsTask();
        Task<WorkloadLease> b1 = scheduler.AcquireAsync("t", "b").AsTask();
        Task<WorkloadLease> c1 = scheduler.AcquireAsync("t", "c").AsTask();

        // b's seat frees: b rejoins the turn behind c, which was waiting with room all along; c goes first.
        b.Dispose();
        using WorkloadLease first = await c1.WithTimeout();
        Assert.False(b1.IsCompleted);

        a.Dispose();
        using WorkloadLease second = await b1.WithTimeout();
        Assert.False(a1.IsCompleted);
        second.Dispose();
        (await a1.WithTimeout()).Dispose();
    }

    [Fact]
    public async Task FullQueue_TurnsAwayTheLargestPartitionsNewestWaiter_NotTheQuietTenant()
    {
        using WorkloadScheduler scheduler = SchedulerFactory.CreateWhiteBox(1, o => o.AddClass("reporting", c => c.QueueLimit = 3));
        using WorkloadLease held = scheduler.TryAcquire("reporting");
        ValueTask<WorkloadLease> noisy1 = scheduler.AcquireAsync("reporting", "noisy");
        ValueTask<WorkloadLease> noisy2 = scheduler.AcquireAsync("reporting", "noisy");
        ValueTask<WorkloadLease> noisy3 = scheduler.AcquireAsync("reporting", "noisy");

        ValueTask<WorkloadLease> quiet = scheduler.AcquireAsync("reporting", "quiet");
        WorkloadLease noisy4 = await scheduler.AcquireAsync("reporting", "noisy").WithTimeout();

        Assert.Equal(WorkloadRejectionReason.QueueFull, (await noisy3.WithTimeout()).RejectionReason);
        Assert.False(quiet.IsCompleted);
        Assert.False(noisy1.IsCompleted || noisy2.IsCompleted);
        Assert.Equal(WorkloadRejectionReason.QueueFull, noisy4.RejectionReason);
        Assert.Equal(3, scheduler.GetSnapshot()["reporting"].Queued);
    }

    [Fact]
    public async Task MillionDistinctKeys_TrackedPartitionsStayUnderTheCapAndNothingLeaks()
    {
        const int Keys = 1_000_000;
        const int Cap = 1_000;
        var time = new FakeTimeProvider();
        using WorkloadScheduler scheduler = SchedulerFactory.CreateWhiteBox(8, o =>
        {
            o.MaxTrackedPartitions = Cap;
            o.AddClass("reporting", c =>
            {
                c.QueueLimit = 2_000;
                c.QueueTimeout = Timeout.InfiniteTimeSpan;
                c.MaxConcurrencyPerPartition = 1;
                c.RateLimit = new WorkloadRateLimitOptions { PermitsPerSecond = 1_000, Burst = 1_000, PerPartition = true };
            });
        }, time);
        ClassState reporting = scheduler.Resolve("reporting");
        var held = new List<WorkloadLease>();
        var waiting = new List<Task<WorkloadLease>>();
        int maxQueueTracked = 0;
        int maxQueueKnown = 0;
        int maxLimiterTracked = 0;

        for (int i = 0; i < Keys; i++)
        {
            waiting.Add(scheduler.AcquireAsync("reporting", $"key-{i}").AsTask());
            if (waiting.Count >= Cap + 100)
            {
                // More keys wait than the cap tracks: free every seat, and collect whoever was admitted.
                await ReleaseAndCollectAsync(held, waiting);
            }

            if (i % 1_000 == 0)
            {
                time.Advance(TimeSpan.FromMilliseconds(10));
            }

            maxQueueTracked = Math.Max(maxQueueTracked, reporting.Queue.TrackedPartitions);
            maxQueueKnown = Math.Max(maxQueueKnown, reporting.Queue.KnownPartitions);
            maxLimiterTracked = Math.Max(maxLimiterTracked, ((PartitionedTokenBucketLimiter)reporting.Limits.RateLimiter!).TrackedPartitions);
        }

        Assert.Equal(Cap, maxQueueTracked);

        // Idle partitions stay known by key only up to IdleKept beyond those tracked: memory stays bounded.
        Assert.InRange(maxQueueKnown, Cap, Cap + PartitionedWaitQueue.IdleKept);
        Assert.InRange(maxLimiterTracked, 1, Cap);
        while (held.Count > 0 || waiting.Count > 0)
        {
            int before = held.Count + waiting.Count;
            await ReleaseAndCollectAsync(held, waiting);
            Assert.True(held.Count + waiting.Count < before || held.Count > 0, "Releasing every seat admits the next waiters.");
        }

        Assert.Equal(0, reporting.Queue.TrackedPartitions);
        Assert.Equal(PartitionedWaitQueue.IdleKept, reporting.Queue.KnownPartitions);
        time.Advance(TimeSpan.FromSeconds(2));
        // Buckets stay bounded by the cap (a new key replaces the fullest of a few); a key after the flood has its own.
        WorkloadLease after = scheduler.TryAcquire("reporting", "after-the-flood");
        Assert.True(after.IsAcquired);
        after.Dispose();
        Assert.InRange(((PartitionedTokenBucketLimiter)reporting.Limits.RateLimiter!).TrackedPartitions, 1, Cap);
        WorkloadClassSnapshot snapshot = scheduler.GetSnapshot()["reporting"];
        Assert.Equal((0, 0), (snapshot.InFlight, snapshot.Queued));
    }

    [Fact]
    public async Task ConcurrentTenants_ManyThreads_KeepPerPartitionLimitsAndLeakNothing()
    {
        using WorkloadScheduler scheduler = SchedulerFactory.CreateWhiteBox(6, o =>
        {
            o.MaxTrackedPartitions = 4;
            o.AddClass("interactive", c => { c.ReservedConcurrency = 2; c.QueueLimit = 10_000; c.QueueTimeout = Timeout.InfiniteTimeSpan; });
            o.AddClass("reporting", c =>
            {
                c.Priority = 2;
                c.MaxConcurrencyPerPartition = 1;
                c.QueueLimit = 10_000;
                c.QueueTimeout = Timeout.InfiniteTimeSpan;
            });
        });
        ClassState reporting = scheduler.Resolve("reporting");
        int[] perTenant = new int[8];
        int violations = 0;

        Task[] workers = [.. Enumerable.Range(0, 8).Select(w => Task.Run(async () =>
        {
            for (int i = 0; i < 1_500; i++)
            {
                // Tenants 0-3 are tracked by key; 4-7 may share hashed partitions, whose limit is shared too.
                int tenant = (w + i) % 8;
                string workloadClass = i % 3 == 0 ? "interactive" : "reporting";
                using WorkloadLease lease = await scheduler.AcquireAsync(workloadClass, $"tenant-{tenant}");
                Assert.True(lease.IsAcquired);
                if (workloadClass == "reporting" && Interlocked.Increment(ref perTenant[tenant]) > 1)
                {
                    Interlocked.Increment(ref violations);
                }

                if (i % 5 == 0)
                {
                    await Task.Yield();
                }

                if (workloadClass == "reporting")
                {
                    Interlocked.Decrement(ref perTenant[tenant]);
                }
            }
        }))];
        await Task.WhenAll(workers).WaitAsync(TimeSpan.FromSeconds(60));

        Assert.Equal(0, violations);
        Assert.All(scheduler.GetSnapshot().Classes, c => Assert.Equal((0, 0), (c.InFlight, c.Queued)));
        Assert.Equal(12_000, scheduler.GetSnapshot().Classes.Sum(c => c.Admitted));
        Assert.Equal(0, reporting.Queue.TrackedPartitions);
        Assert.Equal(0, scheduler.Engine.SharedInUse);
    }

    private static async Task ReleaseAndCollectAsync(List<WorkloadLease> held, List<Task<WorkloadLease>> waiting)
    {
        foreach (WorkloadLease lease in held)
        {
            lease.Dispose();
        }

        held.Clear();
        for (int k = waiting.Count - 1; k >= 0; k--)
        {
            if (waiting[k].IsCompleted)
            {
                WorkloadLease lease = await waiting[k];
                if (lease.IsAcquired)
                {
                    held.Add(lease);
                }

                waiting[k] = waiting[^1];
                waiting.RemoveAt(waiting.Count - 1);
            }
        }
    }

    private static void Cleanup(WorkloadScheduler scheduler, List<WorkloadLease> held, IEnumerable<Task<WorkloadLease>> waiting)
    {
        scheduler.Dispose();
        foreach (WorkloadLease lease in held)
        {
            lease.Dispose();
        }

        Assert.All(waiting, t => Assert.True(t.IsCompleted));
    }
}
