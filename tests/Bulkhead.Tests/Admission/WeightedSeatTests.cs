using System.Globalization;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace Bulkhead.Tests.Admission;

/// <summary>
/// Units of work that take several seats: every rule counts seats, a unit too wide for its class is rejected at once,
/// a wide waiter is never starved by narrower work of its rank, and tenants share a class by seats, not by units.
/// </summary>
public sealed class WeightedSeatTests
{
    [Theory]
    [InlineData(5, "wider than MaxConcurrency 4")]
    [InlineData(7, "wider than the reservation and the pool")]
    public async Task UnitWiderThanItsClassCanEverSeat_IsRejectedAtOnce(int weight, string because)
    {
        // Total 6, another class reserves 2: "reports" can never hold more than 4 seats.
        using TestScheduler scheduler = SchedulerFactory.Create(6, o =>
        {
            o.AddClass("reports", c => (c.MaxConcurrency, c.QueueLimit, c.QueueTimeout) = (weight == 5 ? 4 : null, 10, Timeout.InfiniteTimeSpan));
            o.AddClass("interactive", c => c.ReservedConcurrency = 2);
        });
        WorkloadClass reports = scheduler.GetClass("reports");

        Task<WorkloadLease> waiting = reports.AcquireAsync(new WorkloadRequest("t") { Weight = weight }).AsTask();
        Task<WorkloadLease> background = reports.AcquireAsync(new WorkloadRequest("t") { Weight = weight, Background = true }).AsTask();

        Assert.True(waiting.IsCompleted && background.IsCompleted, $"A unit {because} must not wait.");
        Assert.Equal(WorkloadRejectionReason.WeightTooLarge, (await waiting).RejectionReason);
        Assert.Equal(WorkloadRejectionReason.WeightTooLarge, (await background).RejectionReason);
        Assert.Equal(WorkloadRejectionReason.WeightTooLarge, reports.TryAcquire(new WorkloadRequest("t") { Weight = weight }).RejectionReason);
        WorkloadClassSnapshot snapshot = scheduler.GetSnapshot().Classes.Single(c => c.Name == "reports");
        Assert.Equal((0, 0, 3L), (snapshot.InFlight, snapshot.Queued, snapshot.RejectedByReason[WorkloadRejectionReason.WeightTooLarge]));

        // The widest unit the class can seat is admitted, and holds that many seats until it ends.
        using (WorkloadLease widest = reports.TryAcquire(new WorkloadRequest("t") { Weight = 4 }))
        {
            Assert.True(widest.IsAcquired);
            Assert.Equal(4, scheduler.GetSnapshot().Classes.Single(c => c.Name == "reports").InFlight);
        }

        Assert.Equal(0, scheduler.GetSnapshot().Classes.Single(c => c.Name == "reports").InFlight);
        Assert.Equal(0, scheduler.GetSnapshot().SharedInUse);
    }

    [Fact]
    public void UnitWiderThanThePartitionLimit_IsRejectedAtOnce()
    {
        using TestScheduler scheduler = SchedulerFactory.Create(8, o => o.AddClass("reports", c => (c.MaxConcurrencyPerPartition, c.QueueLimit) = (2, 10)));

        Assert.Equal(WorkloadRejectionReason.WeightTooLarge, scheduler.GetClass("reports").TryAcquire(new WorkloadRequest("tenant") { Weight = 3 }).RejectionReason);
        using WorkloadLease two = scheduler.GetClass("reports").TryAcquire(new WorkloadRequest("tenant") { Weight = 2 });
        Assert.True(two.IsAcquired);

        // The tenant's two seats are its limit: one more seat of it waits, another tenant's does not.
        Assert.Equal(WorkloadRejectionReason.QueueFull, scheduler.GetClass("reports").TryAcquire("tenant").RejectionReason);
        using WorkloadLease other = scheduler.GetClass("reports").TryAcquire(new WorkloadRequest("other") { Weight = 2 });
        Assert.True(other.IsAcquired);
    }

    [Fact]
    public void WeightBelowOne_IsABadArgument_AndTheDefaultRequestTakesOneSeat()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new WorkloadRequest { Weight = 0 });
        Assert.Throws<ArgumentOutOfRangeException>(() => new WorkloadRequest("t") { Weight = -1 });
        Assert.Equal(1, default(WorkloadRequest).Weight);

        using TestScheduler scheduler = SchedulerFactory.Create(4, o => o.AddClass("reports", _ => { }));
        using WorkloadLease lease = scheduler.GetClass("reports").TryAcquire(default(WorkloadRequest));
        Assert.Equal(1, scheduler.GetSnapshot()["reports"].InFlight);
    }

    /// <summary>The class learns the weight of work it knows by its cost key: a request names one or the other.</summary>
    [Fact]
    public void ARequestWithACostKeyAndAWeight_IsABadArgument_AndTakesNoSeat()
    {
        using TestScheduler scheduler = SchedulerFactory.Create(4, o => o.AddClass("reports", _ => { }));
        WorkloadClass reports = scheduler.GetClass("reports");
        var both = new WorkloadRequest("t") { Weight = 2, CostKey = "export" };

        ArgumentException tried = Assert.Throws<ArgumentException>(() => reports.TryAcquire(both));
        Assert.Throws<ArgumentException>(() => { _ = reports.AcquireAsync(both with { Background = true }).AsTask(); });
        Assert.Contains("export", tried.Message, StringComparison.Ordinal);
        Assert.Equal(0, scheduler.GetSnapshot()["reports"].InFlight);
    }

    /// <summary>
    /// A wide waiter under a stream of narrow work of its own priority, in its own class and in another: each narrow unit
    /// that ends is replaced by two new ones at once, and every unit runs for four seconds. Its own class's newcomers
    /// never pass it; the other class's take seats only while it could not use them (its own class was at its maximum);
    /// once its class has room, the seats that free gather for it.
    /// </summary>
    [Fact]
    public async Task WideWaiter_IsNotStarvedByAStreamOfNarrowWorkOfItsPriority()
    {
        var time = new FakeTimeProvider();
        using TestScheduler scheduler = SchedulerFactory.Create(
            4,
            o =>
            {
                o.AddClass("reports", c => (c.QueueLimit, c.QueueTimeout) = (100, TimeSpan.FromSeconds(30)));
                o.AddClass("exports", c => (c.QueueLimit, c.QueueTimeout) = (100, TimeSpan.FromSeconds(30)));
            },
            time);
        WorkloadClass reports = scheduler.GetClass("reports");
        WorkloadClass exports = scheduler.GetClass("exports");

        // Four narrow units run, two of each class, ending one second apart.
        var running = new Queue<WorkloadLease>();
        foreach (WorkloadClass c in (WorkloadClass[])[reports, exports, reports, exports])
        {
            running.Enqueue(c.TryAcquire());
        }

        Task<WorkloadLease> wide = reports.AcquireAsync(new WorkloadRequest("wide") { Weight = 4 }).AsTask();
        var narrow = new List<(WorkloadClass Class, Task<WorkloadLease> Task)>();
        int ended = 0;
        while (!wide.IsCompleted && ended < 100)
        {
            time.Advance(TimeSpan.FromSeconds(1));
            running.Dequeue().Dispose();
            ended++;

            // The stream: narrow work of both classes arrives as fast as seats free; what starts runs its turn.
            narrow.Add((reports, reports.AcquireAsync("narrow").AsTask()));
            narrow.Add((exports, exports.AcquireAsync("narrow").AsTask()));
            foreach ((WorkloadClass _, Task<WorkloadLease> started) in narrow.Where(n => n.Task.IsCompleted).ToList())
            {
                running.Enqueue(await started);
                narrow.RemoveAll(n => n.Task == started);
            }
        }

        // The reports running end at 1 s and 3 s; until 3 s the wide unit cannot start (its class is at its maximum), and
        // exports takes the seats freed at 1 s and 2 s, which it holds until 5 s and 6 s. From 3 s every seat that frees
        // gathers for the wide unit: the fourth at 6 s.
        Assert.Equal(6, ended);
        using WorkloadLease granted = await wide.WithTimeout();
        Assert.True(granted.IsAcquired);
        Assert.All(narrow.Where(n => n.Class == reports), n => Assert.False(n.Task.IsCompleted, "No reports unit that came after the wide one started before it."));
        Assert.Equal(4, scheduler.GetSnapshot().Classes.Sum(c => c.InFlight) - running.Count);
        foreach (WorkloadLease lease in running)
        {
            lease.Dispose();
        }

        Cleanup(scheduler, narrow.Select(n => n.Task));
    }

    /// <summary>
    /// The rule's other half: while a wide waiter of an important class gathers shared seats, a less important class
    /// still uses its reserved seats (seats the wide waiter could never take), and takes no shared seat.
    /// </summary>
    [Fact]
    public async Task WideWaiterGatheringSharedSeats_LeavesLowerPrioritiesTheirReservedSeats()
    {
        using TestScheduler scheduler = SchedulerFactory.Create(6, o =>
        {
            o.AddClass("reports", c => (c.Priority, c.QueueLimit) = (1, 10));
            o.AddClass("batch", c => (c.Priority, c.ReservedConcurrency, c.QueueLimit) = (2, 2, 10));
        });
        WorkloadClass reports = scheduler.GetClass("reports");
        WorkloadClass batch = scheduler.GetClass("batch");
        WorkloadLease[] narrowReports = [reports.TryAcquire(), reports.TryAcquire(), reports.TryAcquire()];
        Task<WorkloadLease> wide = reports.AcquireAsync(new WorkloadRequest { Weight = 3 }).AsTask();
        narrowReports[0].Dispose();

        // One shared seat is free of the four: batch takes its two reserved seats, but not the free shared one.
        using WorkloadLease reserved1 = batch.TryAcquire();
        using WorkloadLease reserved2 = batch.TryAcquire();
        Assert.True(reserved1.IsAcquired && reserved2.IsAcquired);
        Assert.Equal(WorkloadRejectionReason.QueueFull, batch.TryAcquire().RejectionReason);
        Task<WorkloadLease> batchWaiting = batch.AcquireAsync().AsTask();

        Assert.False(wide.IsCompleted);

        // A second shared seat frees: the wide waiter has its three, and batch still none.
        narrowReports[1].Dispose();
        using WorkloadLease granted = await wide.WithTimeout();
        Assert.True(granted.IsAcquired);
        Assert.False(batchWaiting.IsCompleted);
        narrowReports[2].Dispose();
        Cleanup(scheduler, [batchWaiting]);
    }

    /// <summary>
    /// Four backlogged tenants share a class of 4 seats; one sends units of 4 seats, the others units of 1. Each gets a
    /// quarter of the seat-time, where turns by units would give the wide tenant 4 seats of every 7.
    /// </summary>
    [Fact]
    public async Task TenantSendingWideWork_GetsItsShareOfSeatsNotOfUnits()
    {
        using TestScheduler scheduler = SchedulerFactory.Create(4, o => o.AddClass("reports", c => (c.QueueLimit, c.QueueTimeout) = (10_000, Timeout.InfiniteTimeSpan)));
        WorkloadClass reports = scheduler.GetClass("reports");
        WorkloadLease blocker = reports.TryAcquire(new WorkloadRequest { Weight = 4 });
        string[] tenants = ["wide", "a", "b", "c"];
        var waiting = new List<(string Tenant, int Weight, Task<WorkloadLease> Task)>();
        foreach (string tenant in tenants)
        {
            int weight = tenant == "wide" ? 4 : 1;
            for (int i = 0; i < 200 / weight; i++)
            {
                waiting.Add((tenant, weight, reports.AcquireAsync(new WorkloadRequest(tenant) { Weight = weight }).AsTask()));
            }
        }

        // Every unit holds its seats for one step: release what ran, serve the next, and count seats per tenant.
        var seats = tenants.ToDictionary(t => t, _ => 0);
        List<WorkloadLease> held = [blocker];
        for (int step = 0; step < 80; step++)
        {
            held.ForEach(lease => lease.Dispose());
            held.Clear();
            foreach ((string tenant, int weight, Task<WorkloadLease> task) in waiting.Where(w => w.Task.IsCompleted).ToList())
            {
                held.Add(await task.WithTimeout());
                seats[tenant] += weight;
                waiting.Remove((tenant, weight, task));
            }
        }

        double total = seats.Values.Sum();
        double[] shares = [.. tenants.Select(t => seats[t] / total)];
        double jain = Math.Pow(shares.Sum(), 2) / (shares.Length * shares.Sum(x => x * x));
        Assert.All(tenants, t => Assert.InRange(seats[t] / total, 0.22, 0.28));
        Assert.True(jain >= 0.99, string.Create(CultureInfo.InvariantCulture, $"Jain's fairness index over seats {jain:F3}: {string.Join(", ", seats)}."));
        held.ForEach(lease => lease.Dispose());
        Cleanup(scheduler, waiting.Select(w => w.Task));
    }

    [Fact]
    public async Task RunAsyncWithAWeight_HoldsThatManySeatsWhileTheWorkRuns()
    {
        using TestScheduler scheduler = SchedulerFactory.Create(4, o => o.AddClass("reports", c => c.QueueLimit = 10));
        int seen = -1;

        int result = await scheduler.RunAsync("reports", 3, ct =>
        {
            seen = scheduler.GetSnapshot()["reports"].InFlight;
            return Task.FromResult(42);
        }).WithTimeout();
        await scheduler.RunAsync("reports", 2, _ => Task.CompletedTask).WithTimeout();

        Assert.Equal((42, 3, 0), (result, seen, scheduler.GetSnapshot()["reports"].InFlight));
        WorkloadRejectedException tooWide = await Assert.ThrowsAsync<WorkloadRejectedException>(() => scheduler.RunAsync("reports", 5, _ => Task.CompletedTask));
        Assert.Equal(WorkloadRejectionReason.WeightTooLarge, tooWide.Reason);
    }

    [Fact]
    public async Task JobItemWithAWeight_RunsHoldingThatManySeats_AndOneTooWideIsRefusedWhereItIsQueued()
    {
        await using ServiceProvider services = new ServiceCollection()
            .AddWorkloadIsolation(o =>
            {
                o.TotalConcurrency = 4;
                o.DefaultClass = "batch";
                o.AddClass("batch", c => c.QueueTimeout = Timeout.InfiniteTimeSpan);
            })
            .Services.BuildServiceProvider();
        IWorkloadJobQueue jobs = services.GetRequiredService<IWorkloadJobQueue>();
        IWorkloadScheduler scheduler = services.GetRequiredService<IWorkloadScheduler>();
        var seen = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously);

        await jobs.EnqueueAsync("batch", _ => { seen.TrySetResult(scheduler.GetSnapshot()["batch"].InFlight); return Task.CompletedTask; }, weight: 3).AsTask().WithTimeout();
        WorkloadRejectedException tooWide = await Assert.ThrowsAsync<WorkloadRejectedException>(() => jobs.EnqueueAsync("batch", _ => Task.CompletedTask, weight: 5).AsTask());

        Assert.Equal(3, await seen.Task.WithTimeout());
        Assert.Equal(WorkloadRejectionReason.WeightTooLarge, tooWide.Reason);
        await Eventually.TrueAsync(() => scheduler.GetSnapshot()["batch"] is { InFlight: 0, Jobs.Completed: 1 }, "the item ran and freed its seats");
    }

    /// <summary>
    /// Wide units decided under the lock race single seats taken and freed without it, on eight threads: no class ever
    /// holds more seats than its maximum, the host never more than its total, and every seat comes back.
    /// </summary>
    [Fact]
    public async Task WideAndSingleSeats_UnderConcurrentLoad_NeverExceedTheLimitsAndAllComeBack()
    {
        using TestScheduler scheduler = TestScheduler.Create(
            new WorkloadIsolationOptions { TotalConcurrency = 8, DefaultClass = "interactive" }
                .AddClass("interactive", c => (c.ReservedConcurrency, c.MaxConcurrency, c.QueueLimit, c.QueueTimeout) = (2, 8, 1_000, Timeout.InfiniteTimeSpan))
                .AddClass("reports", c => (c.Priority, c.MaxConcurrency, c.QueueLimit, c.QueueTimeout, c.MaxConcurrencyPerPartition) = (1, 6, 1_000, Timeout.InfiniteTimeSpan, 4))
                .AddClass("batch", c => (c.Priority, c.ReservedConcurrency, c.MaxConcurrency, c.QueueLimit, c.QueueTimeout) = (2, 1, 5, 1_000, Timeout.InfiniteTimeSpan)),
            TimeProvider.System);
        string[] names = ["interactive", "reports", "batch"];
        int[] maxima = [8, 6, 5];
        int[] seats = new int[3];
        int total = 0;
        int violations = 0;
        long admitted = 0;
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(2));

        async Task Worker(int seed)
        {
            var random = new Random(seed);
            while (!stop.IsCancellationRequested)
            {
                int k = random.Next(3);
                int weight = random.Next(3) == 0 ? random.Next(2, 5) : 1;
                string partition = random.Next(2) == 0 ? "a" : "b";
                WorkloadClass c = scheduler.GetClass(names[k]);
                using WorkloadLease lease = random.Next(4) == 0 ? c.TryAcquire(new WorkloadRequest(partition) { Weight = weight }) : await c.AcquireAsync(new WorkloadRequest(partition) { Weight = weight });
                if (!lease.IsAcquired)
                {
                    continue;
                }

                Interlocked.Increment(ref admitted);
                if (Interlocked.Add(ref seats[k], weight) > maxima[k] | Interlocked.Add(ref total, weight) > 8)
                {
                    Interlocked.Increment(ref violations);
                }

                if (random.Next(3) == 0)
                {
                    await Task.Yield();
                }

                Interlocked.Add(ref total, -weight);
                Interlocked.Add(ref seats[k], -weight);
            }
        }

        await Task.WhenAll(Enumerable.Range(0, 8).Select(i => Task.Run(() => Worker(i)))).WithTimeout();

        Assert.Equal(0, violations);
        Assert.True(admitted > 1_000, $"Only {admitted} admissions: the test did not load the engine.");
        Assert.All(scheduler.GetSnapshot().Classes, c => Assert.Equal((c.Name, 0, 0), (c.Name, c.InFlight, c.Queued)));
        Assert.Equal(0, scheduler.GetSnapshot().SharedInUse);
    }

    private static void Cleanup(TestScheduler scheduler, IEnumerable<Task<WorkloadLease>> waiting)
    {
        scheduler.Dispose();
        foreach (Task<WorkloadLease> task in waiting)
        {
            if (task.IsCompletedSuccessfully)
            {
                task.Result.Dispose();
            }
        }
    }
}
