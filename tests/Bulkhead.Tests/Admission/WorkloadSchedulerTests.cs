using System.Collections.Concurrent;
using Bulkhead.Admission.Internal;
using Microsoft.Extensions.Time.Testing;

namespace Bulkhead.Tests.Admission;

public sealed class WorkloadSchedulerTests
{
    private const string Interactive = "interactive";
    private const string Reporting = "reporting";
    private const string Batch = "batch";

    [Fact]
    public void TryAcquire_SeatFree_ReturnsAcquiredLease()
    {
        using TestScheduler scheduler = SchedulerFactory.Create(2, o => o.AddClass(Batch));

        using WorkloadLease lease = scheduler.TryAcquire(Batch);

        Assert.True(lease.IsAcquired);
        Assert.Equal(Batch, lease.WorkloadClass);
        Assert.Null(lease.RejectionReason);
        Assert.Null(lease.RetryAfter);
        Assert.Equal(1, scheduler.GetSnapshot()[Batch].InFlight);
    }

    [Fact]
    public void TryAcquire_ClassAtMaxConcurrency_RejectsWithQueueFull()
    {
        using TestScheduler scheduler = SchedulerFactory.Create(4, o => o.AddClass(Batch, c => c.MaxConcurrency = 1));
        using WorkloadLease held = scheduler.TryAcquire(Batch);

        WorkloadLease lease = scheduler.TryAcquire(Batch);

        Assert.False(lease.IsAcquired);
        Assert.Equal(WorkloadRejectionReason.QueueFull, lease.RejectionReason);
        Assert.Equal(Batch, lease.WorkloadClass);
        Assert.Equal(1, scheduler.GetSnapshot()[Batch].Rejected);
    }

    [Fact]
    public void TryAcquire_ClassNameInOtherCase_FindsClass()
    {
        using TestScheduler scheduler = SchedulerFactory.Create(2, o => o.AddClass("Reporting"));

        using WorkloadLease lease = scheduler.TryAcquire("REPORTING");

        Assert.True(lease.IsAcquired);
        Assert.Equal("Reporting", lease.WorkloadClass);
    }

    [Fact]
    public void TryAcquire_UnknownClass_ThrowsArgumentExceptionNamingConfiguredClasses()
    {
        using TestScheduler scheduler = SchedulerFactory.Create(2, o => o.AddClass(Batch).AddClass(Interactive));

        ArgumentException exception = Assert.Throws<ArgumentException>(() => scheduler.TryAcquire("bacth"));

        Assert.Equal("workloadClass", exception.ParamName);
        Assert.Contains("'bacth'", exception.Message, StringComparison.Ordinal);
        Assert.Contains("'batch'", exception.Message, StringComparison.Ordinal);
        Assert.Contains("'interactive'", exception.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Dispose_Twice_FreesTheSeatOnce()
    {
        using TestScheduler scheduler = SchedulerFactory.Create(2, o => o.AddClass(Batch));
        WorkloadLease first = scheduler.TryAcquire(Batch);
        using WorkloadLease second = scheduler.TryAcquire(Batch);

        first.Dispose();
        first.Dispose();

        Assert.Equal(1, scheduler.GetSnapshot()[Batch].InFlight);
    }

    [Fact]
    public void Dispose_CopyOfLeaseAfterReuse_DoesNotFreeTheNewHoldersSeat()
    {
        using TestScheduler scheduler = SchedulerFactory.Create(2, o => o.AddClass(Batch));
        WorkloadLease original = scheduler.TryAcquire(Batch);
        WorkloadLease copy = original;
        original.Dispose();
        using WorkloadLease reused = scheduler.TryAcquire(Batch);

        copy.Dispose();

        Assert.True(reused.IsAcquired);
        Assert.Equal(1, scheduler.GetSnapshot()[Batch].InFlight);
    }

    [Fact]
    public void Dispose_DefaultAndRejectedLeases_DoNothing()
    {
        using TestScheduler scheduler = SchedulerFactory.Create(1, o => o.AddClass(Batch));
        using WorkloadLease held = scheduler.TryAcquire(Batch);
        WorkloadLease rejected = scheduler.TryAcquire(Batch);

        default(WorkloadLease).Dispose();
        rejected.Dispose();

        Assert.False(default(WorkloadLease).IsAcquired);
        Assert.Null(default(WorkloadLease).RejectionReason);
        Assert.Equal(string.Empty, default(WorkloadLease).WorkloadClass);
        Assert.Equal(1, scheduler.GetSnapshot()[Batch].InFlight);
    }

    [Fact]
    public void ReservedSeats_OtherClassFloods_AreNeverLent()
    {
        using TestScheduler scheduler = SchedulerFactory.Create(6, o => o
            .AddClass(Interactive, c => c.ReservedConcurrency = 2)
            .AddClass(Batch, c => { c.Priority = 3; c.QueueLimit = 100; }));
        List<WorkloadLease> batch = [];
        for (int i = 0; i < 10; i++)
        {
            batch.Add(scheduler.TryAcquire(Batch));
        }

        WorkloadLease first = scheduler.TryAcquire(Interactive);
        WorkloadLease second = scheduler.TryAcquire(Interactive);

        Assert.Equal(4, batch.Count(l => l.IsAcquired));
        Assert.True(first.IsAcquired);
        Assert.True(second.IsAcquired);
    }

    [Fact]
    public void MaxConcurrency_IncludesBorrowedSeats()
    {
        using TestScheduler scheduler = SchedulerFactory.Create(10, o => o
            .AddClass(Reporting, c => { c.ReservedConcurrency = 2; c.MaxConcurrency = 3; }));

        WorkloadLease[] leases = [.. Enumerable.Range(0, 5).Select(_ => scheduler.TryAcquire(Reporting))];

        Assert.Equal(3, leases.Count(l => l.IsAcquired));
        Assert.Equal(3, scheduler.GetSnapshot()[Reporting].InFlight);
    }

    [Fact]
    public void SharedPool_IsTotalLessAllReservations()
    {
        // Total 5, reserved 2 + 1: the pool has 2 seats that either class may borrow.
        using TestScheduler scheduler = SchedulerFactory.Create(5, o => o
            .AddClass(Interactive, c => c.ReservedConcurrency = 2)
            .AddClass(Batch, c => { c.Priority = 3; c.ReservedConcurrency = 1; }));

        WorkloadLease[] batch = [.. Enumerable.Range(0, 5).Select(_ => scheduler.TryAcquire(Batch))];
        WorkloadLease[] interactive = [.. Enumerable.Range(0, 5).Select(_ => scheduler.TryAcquire(Interactive))];

        Assert.Equal(3, batch.Count(l => l.IsAcquired));
        Assert.Equal(2, interactive.Count(l => l.IsAcquired));
    }

    [Fact]
    public async Task AcquireAsync_NoSeat_WaitsAndIsGrantedTheReleasedSeat()
    {
        using TestScheduler scheduler = SchedulerFactory.Create(1, o => o.AddClass(Batch));
        WorkloadLease held = scheduler.TryAcquire(Batch);

        ValueTask<WorkloadLease> waiting = scheduler.AcquireAsync(Batch);
        Assert.False(waiting.IsCompleted);
        Assert.Equal(1, scheduler.GetSnapshot()[Batch].Queued);

        held.Dispose();

        // Work-conserving: the seat is handed over as it is freed, before any continuation runs.
        Assert.True(waiting.IsCompleted);
        using WorkloadLease lease = await waiting.WithTimeout();
        Assert.True(lease.IsAcquired);
        Assert.Equal(0, scheduler.GetSnapshot()[Batch].Queued);
        Assert.Equal(1, scheduler.GetSnapshot()[Batch].InFlight);
    }

    [Fact]
    public async Task AcquireAsync_SeatHandedToWaiter_NewArrivalOfSameClassDoesNotBarge()
    {
        using TestScheduler scheduler = SchedulerFactory.Create(1, o => o.AddClass(Batch));
        WorkloadLease held = scheduler.TryAcquire(Batch);
        ValueTask<WorkloadLease> waiting = scheduler.AcquireAsync(Batch);

        held.Dispose();
        WorkloadLease late = scheduler.TryAcquire(Batch);

        Assert.False(late.IsAcquired);
        using WorkloadLease lease = await waiting.WithTimeout();
        Assert.True(lease.IsAcquired);
    }

    [Fact]
    public async Task SharedSeat_Freed_GoesToMostImportantWaitingClass()
    {
        using TestScheduler scheduler = SchedulerFactory.Create(1, o => o
            .AddClass(Interactive, c => c.Priority = 0)
            .AddClass(Reporting, c => c.Priority = 2)
            .AddClass(Batch, c => c.Priority = 3));
        WorkloadLease held = scheduler.TryAcquire(Batch);
        ValueTask<WorkloadLease> batch = scheduler.AcquireAsync(Batch);
        ValueTask<WorkloadLease> reporting = scheduler.AcquireAsync(Reporting);
        ValueTask<WorkloadLease> interactive = scheduler.AcquireAsync(Interactive);

        held.Dispose();

        Assert.True(interactive.IsCompleted);
        Assert.False(reporting.IsCompleted);
        Assert.False(batch.IsCompleted);
        (await interactive.WithTimeout()).Dispose();
        Assert.True(reporting.IsCompleted);
        Assert.False(batch.IsCompleted);
        (await reporting.WithTimeout()).Dispose();
        Assert.True((await batch.WithTimeout()).IsAcquired);
    }

    [Fact]
    public async Task SharedSeat_HigherPriorityClassAtItsMax_GoesToNextClass()
    {
        using TestScheduler scheduler = SchedulerFactory.Create(2, o => o
            .AddClass(Interactive, c => { c.Priority = 0; c.MaxConcurrency = 1; })
            .AddClass(Batch, c => c.Priority = 3));
        using WorkloadLease interactiveHeld = scheduler.TryAcquire(Interactive);
        WorkloadLease batchHeld = scheduler.TryAcquire(Batch);
        ValueTask<WorkloadLease> interactive = scheduler.AcquireAsync(Interactive);
        ValueTask<WorkloadLease> batch = scheduler.AcquireAsync(Batch);

        batchHeld.Dispose();

        Assert.False(interactive.IsCompleted);
        using WorkloadLease batchLease = await batch.WithTimeout();
        Assert.True(batchLease.IsAcquired);
    }

    [Fact]
    public async Task SharedSeat_EqualPriorities_AreServedRoundRobin()
    {
        using TestScheduler scheduler = SchedulerFactory.Create(1, o => o
            .AddClass("a", c => c.Priority = 1)
            .AddClass("b", c => c.Priority = 1)
            .AddClass("c", c => c.Priority = 1));
        WorkloadLease held = scheduler.TryAcquire("a");
        List<(string Class, Task<WorkloadLease> Task)> waiters = [];
        foreach (string name in new[] { "a", "a", "a", "b", "b", "c" })
        {
            waiters.Add((name, scheduler.AcquireAsync(name).AsTask()));
        }

        List<string> order = [];
        for (int i = 0; i < waiters.Count; i++)
        {
            held.Dispose();
            int next = waiters.FindIndex(w => w.Task.IsCompleted && !order.Contains($"{w.Class}{waiters.IndexOf(w)}"));
            Assert.True(next >= 0, "A released seat is handed to a waiter at once.");
            order.Add($"{waiters[next].Class}{next}");
            held = await waiters[next].Task.WithTimeout();
        }

        held.Dispose();
        Assert.Equal(["a0", "b3", "c5", "a1", "b4", "a2"], order);
    }

    [Fact]
    public void NewArrival_HigherPriorityWaiterCouldTakeSharedSeat_DoesNotOvertakeIt()
    {
        // The only shared seat is in use by batch; interactive waits for it. When the batch seat frees, a batch
        // arrival must not take it before interactive.
        using TestScheduler scheduler = SchedulerFactory.Create(1, o => o
            .AddClass(Interactive, c => c.Priority = 0)
            .AddClass(Batch, c => c.Priority = 3));
        WorkloadLease batchHeld = scheduler.TryAcquire(Batch);
        ValueTask<WorkloadLease> interactive = scheduler.AcquireAsync(Interactive);

        batchHeld.Dispose();
        WorkloadLease batch = scheduler.TryAcquire(Batch);

        Assert.False(batch.IsAcquired);
        Assert.True(interactive.IsCompleted);
    }

    [Fact]
    public void NewArrival_LowerPriorityClassWaits_MoreImportantArrivalTakesFreeSeat()
    {
        using TestScheduler scheduler = SchedulerFactory.Create(2, o => o
            .AddClass(Interactive, c => c.Priority = 0)
            .AddClass(Batch, c => { c.Priority = 3; c.MaxConcurrency = 1; }));
        using WorkloadLease batchHeld = scheduler.TryAcquire(Batch);
        ValueTask<WorkloadLease> batchWaiting = scheduler.AcquireAsync(Batch);

        using WorkloadLease interactive = scheduler.TryAcquire(Interactive);

        Assert.True(interactive.IsAcquired);
        Assert.False(batchWaiting.IsCompleted);
    }

    [Fact]
    public async Task ReservedSeat_Freed_GoesToItsOwnClassEvenWhenMoreImportantClassesWait()
    {
        using TestScheduler scheduler = SchedulerFactory.Create(2, o => o
            .AddClass(Interactive, c => c.Priority = 0)
            .AddClass(Batch, c => { c.Priority = 3; c.ReservedConcurrency = 1; }));
        WorkloadLease batchHeld = scheduler.TryAcquire(Batch);
        using WorkloadLease interactiveHeld = scheduler.TryAcquire(Interactive);
        ValueTask<WorkloadLease> interactive = scheduler.AcquireAsync(Interactive);
        ValueTask<WorkloadLease> batch = scheduler.AcquireAsync(Batch);

        batchHeld.Dispose();

        Assert.False(interactive.IsCompleted);
        using WorkloadLease lease = await batch.WithTimeout();
        Assert.True(lease.IsAcquired);
    }

    [Fact]
    public async Task AcquireAsync_QueueFull_RejectsWithQueueFull()
    {
        using TestScheduler scheduler = SchedulerFactory.Create(1, o => o.AddClass(Batch, c => c.QueueLimit = 2));
        using WorkloadLease held = scheduler.TryAcquire(Batch);
        ValueTask<WorkloadLease> first = scheduler.AcquireAsync(Batch);
        ValueTask<WorkloadLease> second = scheduler.AcquireAsync(Batch);

        WorkloadLease third = await scheduler.AcquireAsync(Batch).WithTimeout();

        Assert.Equal(WorkloadRejectionReason.QueueFull, third.RejectionReason);
        Assert.False(first.IsCompleted);
        Assert.False(second.IsCompleted);
        Assert.Equal(2, scheduler.GetSnapshot()[Batch].Queued);
    }

    [Fact]
    public async Task AcquireAsync_QueueLimitZero_RejectsAtOnceWhenNoSeat()
    {
        using TestScheduler scheduler = SchedulerFactory.Create(1, o => o.AddClass(Batch, c => c.QueueLimit = 0));
        using WorkloadLease held = scheduler.TryAcquire(Batch);

        WorkloadLease lease = await scheduler.AcquireAsync(Batch).WithTimeout();

        Assert.Equal(WorkloadRejectionReason.QueueFull, lease.RejectionReason);
        Assert.Equal(0, scheduler.GetSnapshot()[Batch].Queued);
    }

    [Fact]
    public async Task AcquireAsync_QueueTimeoutPasses_RejectsWithQueueTimeoutAndFreesThePlace()
    {
        var time = new FakeTimeProvider();
        using TestScheduler scheduler = SchedulerFactory.Create(1, o => o.AddClass(Batch, c => { c.QueueLimit = 1; c.QueueTimeout = TimeSpan.FromSeconds(2); }), time);
        using WorkloadLease held = scheduler.TryAcquire(Batch);
        ValueTask<WorkloadLease> waiting = scheduler.AcquireAsync(Batch);

        time.Advance(TimeSpan.FromMilliseconds(1999));
        Assert.False(waiting.IsCompleted);
        time.Advance(TimeSpan.FromMilliseconds(1));

        WorkloadLease lease = await waiting.WithTimeout();
        Assert.Equal(WorkloadRejectionReason.QueueTimeout, lease.RejectionReason);
        Assert.Equal(0, scheduler.GetSnapshot()[Batch].Queued);
        Assert.False(scheduler.AcquireAsync(Batch).AsTask().IsCompleted);
    }

    [Fact]
    public async Task QueuedWaiters_ShareTheirClassTimer_AndEachLeavesAtItsOwnDeadline()
    {
        var time = new TimerCountingTimeProvider();
        var options = new WorkloadIsolationOptions { TotalConcurrency = 1, DefaultClass = Batch };
        options.AddClass(Batch, c => { c.QueueLimit = 50; c.QueueTimeout = TimeSpan.FromSeconds(2); });
        using var scheduler = TestScheduler.Create(options, time);
        using WorkloadLease held = scheduler.TryAcquire(Batch);
        List<Task<WorkloadLease>> waiting = [scheduler.AcquireAsync(Batch).AsTask()];
        int timersForOne = time.Timers;

        // Forty-nine more, 10 ms apart, one of them canceled while first in line for its deadline's timer.
        using var cancel = new CancellationTokenSource();
        for (int i = 1; i < 50; i++)
        {
            time.Advance(TimeSpan.FromMilliseconds(10));
            waiting.Add(scheduler.AcquireAsync(Batch, cancellationToken: i == 1 ? cancel.Token : default).AsTask());
        }

        Assert.Equal(timersForOne, time.Timers);
        await cancel.CancelAsync();

        // The first falls due 2 s after it came, the rest each 10 ms later: none leaves early, none late.
        time.Advance(TimeSpan.FromMilliseconds(1500));
        for (int i = 0; i < 50; i++)
        {
            Assert.True(i == 1 || !waiting[i].IsCompleted, $"waiter {i} left before its deadline");
            time.Advance(TimeSpan.FromMilliseconds(10) - TimeSpan.FromTicks(1));
            Assert.True(i == 1 || !waiting[i].IsCompleted, $"waiter {i} left before its deadline");
            time.Advance(TimeSpan.FromTicks(1));
            if (i == 1)
            {
                await Assert.ThrowsAnyAsync<OperationCanceledException>(() => waiting[i].WithTimeout());
            }
            else
            {
                Assert.Equal(WorkloadRejectionReason.QueueTimeout, (await waiting[i].WithTimeout()).RejectionReason);
            }
        }

        // Re-armed for each next deadline, never made again (the rejection summary has a timer of its own).
        Assert.Equal(0, scheduler.GetSnapshot()[Batch].Queued);
        Assert.Equal(1, time.TimersOf(AdmissionEngine.OnDue));
    }

    [Fact]
    public async Task AcquireAsync_QueueTimeoutZero_RejectsAtOnceWithQueueTimeout()
    {
        using TestScheduler scheduler = SchedulerFactory.Create(1, o => o.AddClass(Batch, c => c.QueueTimeout = TimeSpan.Zero));
        using WorkloadLease held = scheduler.TryAcquire(Batch);

        WorkloadLease lease = await scheduler.AcquireAsync(Batch).WithTimeout();

        Assert.Equal(WorkloadRejectionReason.QueueTimeout, lease.RejectionReason);
    }

    [Fact]
    public async Task AcquireAsync_InfiniteQueueTimeout_WaitsUntilASeatFrees()
    {
        var time = new FakeTimeProvider();
        using TestScheduler scheduler = SchedulerFactory.Create(1, o => o.AddClass(Batch, c => c.QueueTimeout = Timeout.InfiniteTimeSpan), time);
        WorkloadLease held = scheduler.TryAcquire(Batch);
        ValueTask<WorkloadLease> waiting = scheduler.AcquireAsync(Batch);

        time.Advance(TimeSpan.FromDays(30));
        Assert.False(waiting.IsCompleted);
        held.Dispose();

        using WorkloadLease lease = await waiting.WithTimeout();
        Assert.True(lease.IsAcquired);
    }

    [Fact]
    public async Task AcquireAsync_Fifo_AdmitsOldestFirst()
    {
        using TestScheduler scheduler = SchedulerFactory.Create(1, o => o.AddClass(Batch, c => c.QueueOrder = WorkloadQueueOrder.Fifo));
        WorkloadLease held = scheduler.TryAcquire(Batch);
        ValueTask<WorkloadLease> first = scheduler.AcquireAsync(Batch);
        ValueTask<WorkloadLease> second = scheduler.AcquireAsync(Batch);

        held.Dispose();

        Assert.True(first.IsCompleted);
        Assert.False(second.IsCompleted);
        (await first.WithTimeout()).Dispose();
        (await second.WithTimeout()).Dispose();
    }

    [Fact]
    public async Task AcquireAsync_Lifo_AdmitsNewestFirst()
    {
        using TestScheduler scheduler = SchedulerFactory.Create(1, o => o.AddClass(Batch, c => c.QueueOrder = WorkloadQueueOrder.Lifo));
        WorkloadLease held = scheduler.TryAcquire(Batch);
        ValueTask<WorkloadLease> first = scheduler.AcquireAsync(Batch);
        ValueTask<WorkloadLease> second = scheduler.AcquireAsync(Batch);

        held.Dispose();

        Assert.False(first.IsCompleted);
        Assert.True(second.IsCompleted);
        (await second.WithTimeout()).Dispose();
        (await first.WithTimeout()).Dispose();
    }

    [Fact]
    public async Task AcquireAsync_LifoQueueFull_RejectsTheOldestWaiter()
    {
        using TestScheduler scheduler = SchedulerFactory.Create(1, o => o.AddClass(Batch, c => { c.QueueOrder = WorkloadQueueOrder.Lifo; c.QueueLimit = 2; }));
        using WorkloadLease held = scheduler.TryAcquire(Batch);
        ValueTask<WorkloadLease> oldest = scheduler.AcquireAsync(Batch);
        ValueTask<WorkloadLease> middle = scheduler.AcquireAsync(Batch);

        ValueTask<WorkloadLease> newest = scheduler.AcquireAsync(Batch);

        Assert.Equal(WorkloadRejectionReason.QueueFull, (await oldest.WithTimeout()).RejectionReason);
        Assert.False(middle.IsCompleted);
        Assert.False(newest.IsCompleted);
        Assert.Equal(2, scheduler.GetSnapshot()[Batch].Queued);
    }

    [Fact]
    public async Task AcquireAsync_CanceledWhileQueued_ThrowsAndFreesThePlaceAtOnce()
    {
        using TestScheduler scheduler = SchedulerFactory.Create(1, o => o.AddClass(Batch, c => c.QueueLimit = 1));
        WorkloadLease held = scheduler.TryAcquire(Batch);
        using var cts = new CancellationTokenSource();
        ValueTask<WorkloadLease> waiting = scheduler.AcquireAsync(Batch, cancellationToken: cts.Token);

        await cts.CancelAsync();

        OperationCanceledException exception = await Assert.ThrowsAnyAsync<OperationCanceledException>(() => waiting.WithTimeout());
        Assert.Equal(cts.Token, exception.CancellationToken);
        WorkloadClassSnapshot snapshot = scheduler.GetSnapshot()[Batch];
        Assert.Equal(0, snapshot.Queued);
        Assert.Equal(1, snapshot.Canceled);
        Assert.Equal(0, snapshot.Rejected);
        ValueTask<WorkloadLease> next = scheduler.AcquireAsync(Batch);
        held.Dispose();
        using WorkloadLease lease = await next.WithTimeout();
        Assert.True(lease.IsAcquired);
        Assert.Equal(1, scheduler.GetSnapshot()[Batch].InFlight);
    }

    [Fact]
    public async Task AcquireAsync_TokenAlreadyCanceled_ThrowsWithoutTakingASeatAndCountsIt()
    {
        using TestScheduler scheduler = SchedulerFactory.Create(1, o => o.AddClass(Batch));
        using var cts = new CancellationTokenSource();
        await cts.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => scheduler.AcquireAsync(Batch, cancellationToken: cts.Token).WithTimeout());
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => scheduler.GetClass(Batch).AcquireAsync(cancellationToken: cts.Token).AsTask().WithTimeout());

        WorkloadClassSnapshot snapshot = scheduler.GetSnapshot()[Batch];
        Assert.Equal(0, snapshot.InFlight);
        Assert.Equal(2, snapshot.Canceled);
        Assert.Equal(0, snapshot.Admitted);
    }

    [Fact]
    public async Task AcquireAsync_CanceledAfterGrant_KeepsTheLease()
    {
        using TestScheduler scheduler = SchedulerFactory.Create(1, o => o.AddClass(Batch));
        WorkloadLease held = scheduler.TryAcquire(Batch);
        using var cts = new CancellationTokenSource();
        ValueTask<WorkloadLease> waiting = scheduler.AcquireAsync(Batch, cancellationToken: cts.Token);
        held.Dispose();

        await cts.CancelAsync();

        using WorkloadLease lease = await waiting.WithTimeout();
        Assert.True(lease.IsAcquired);
        Assert.Equal(1, scheduler.GetSnapshot()[Batch].InFlight);
    }

    [Fact]
    public async Task Dispose_FailsWaitersWithShuttingDownAndRejectsNewWork()
    {
        TestScheduler scheduler = SchedulerFactory.Create(1, o => o.AddClass(Batch));
        WorkloadLease held = scheduler.TryAcquire(Batch);
        ValueTask<WorkloadLease> waiting = scheduler.AcquireAsync(Batch);

        scheduler.Dispose();

        Assert.Equal(WorkloadRejectionReason.ShuttingDown, (await waiting.WithTimeout()).RejectionReason);
        Assert.Equal(WorkloadRejectionReason.ShuttingDown, (await scheduler.AcquireAsync(Batch).WithTimeout()).RejectionReason);
        held.Dispose();
        Assert.Equal(WorkloadRejectionReason.ShuttingDown, scheduler.TryAcquire(Batch).RejectionReason);
        Assert.Equal(0, scheduler.GetSnapshot()[Batch].InFlight);
        scheduler.Dispose();
    }

    [Fact]
    public async Task RunAsync_Admitted_HoldsASeatWhileWorkRuns()
    {
        using TestScheduler scheduler = SchedulerFactory.Create(2, o => o.AddClass(Batch));
        var gate = new Gate();

        Task run = scheduler.RunAsync(Batch, async _ => await gate.WaitAsync());
        await gate.Entered.WithTimeout();

        Assert.Equal(1, scheduler.GetSnapshot()[Batch].InFlight);
        gate.Open();
        await run.WithTimeout();
        Assert.Equal(0, scheduler.GetSnapshot()[Batch].InFlight);
    }

    [Fact]
    public async Task RunAsync_WithResult_ReturnsTheWorksResult()
    {
        using TestScheduler scheduler = SchedulerFactory.Create(2, o => o.AddClass(Batch));

        int result = await scheduler.RunAsync(Batch, _ => ValueTask.FromResult(42)).WithTimeout();

        Assert.Equal(42, result);
    }

    [Fact]
    public async Task RunAsync_WorkThrows_FreesTheSeatAndPropagates()
    {
        using TestScheduler scheduler = SchedulerFactory.Create(1, o => o.AddClass(Batch));

        await Assert.ThrowsAsync<InvalidOperationException>(
            () => scheduler.RunAsync(Batch, _ => throw new InvalidOperationException("boom")).WithTimeout());

        Assert.Equal(0, scheduler.GetSnapshot()[Batch].InFlight);
    }

    [Fact]
    public async Task RunAsync_Rejected_ThrowsWorkloadRejectedException()
    {
        using TestScheduler scheduler = SchedulerFactory.Create(1, o => o.AddClass(Batch, c => c.QueueLimit = 0));
        using WorkloadLease held = scheduler.TryAcquire(Batch);
        bool ran = false;

        WorkloadRejectedException exception = await Assert.ThrowsAsync<WorkloadRejectedException>(
            () => scheduler.RunAsync(Batch, _ => { ran = true; return ValueTask.CompletedTask; }).WithTimeout());

        Assert.False(ran);
        Assert.Equal(Batch, exception.WorkloadClass);
        Assert.Equal(WorkloadRejectionReason.QueueFull, exception.Reason);
        Assert.Null(exception.RetryAfter);
        Assert.Contains("'batch'", exception.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RunAsync_NullWork_ThrowsArgumentNullException()
    {
        using TestScheduler scheduler = SchedulerFactory.Create(1, o => o.AddClass(Batch));

        await Assert.ThrowsAsync<ArgumentNullException>(() => scheduler.RunAsync(Batch, null!));
    }

    [Fact]
    public async Task GetSnapshot_CountsAdmittedRejectedQueuedAndLimits()
    {
        using TestScheduler scheduler = SchedulerFactory.Create(4, o => o
            .AddClass(Interactive, c => { c.ReservedConcurrency = 1; c.MaxConcurrency = 2; c.QueueLimit = 1; })
            .AddClass(Batch, c => c.Priority = 3));
        WorkloadLease a = scheduler.TryAcquire(Interactive);
        WorkloadLease b = scheduler.TryAcquire(Interactive);
        ValueTask<WorkloadLease> queued = scheduler.AcquireAsync(Interactive);
        WorkloadLease rejected = scheduler.TryAcquire(Interactive);

        WorkloadSnapshot snapshot = scheduler.GetSnapshot();

        Assert.Equal([Interactive, Batch], snapshot.Classes.Select(c => c.Name));
        WorkloadClassSnapshot interactive = snapshot[Interactive];
        Assert.Equal((0, 2, 1, 1, 2, 1, 2L, 1L), (interactive.Priority, interactive.InFlight, interactive.Queued, interactive.ReservedConcurrency,
            interactive.MaxConcurrency, interactive.QueueLimit, interactive.Admitted, interactive.Rejected));
        Assert.Equal(4, snapshot[Batch].MaxConcurrency);
        Assert.False(rejected.IsAcquired);
        a.Dispose();
        (await queued.WithTimeout()).Dispose();
        b.Dispose();
        Assert.Equal(3, scheduler.GetSnapshot()[Interactive].Admitted);
        Assert.Equal(0, scheduler.GetSnapshot()[Interactive].InFlight);
    }

    [Fact]
    public async Task ConcurrentAcquireAndRelease_ManyThreads_KeepLimitsAndLeakNoSeat()
    {
        using TestScheduler scheduler = SchedulerFactory.Create(4, o => o
            .AddClass(Interactive, c => { c.ReservedConcurrency = 1; c.QueueLimit = 10_000; c.QueueTimeout = Timeout.InfiniteTimeSpan; })
            .AddClass(Reporting, c => { c.Priority = 2; c.MaxConcurrency = 2; c.QueueLimit = 10_000; c.QueueTimeout = Timeout.InfiniteTimeSpan; })
            .AddClass(Batch, c => { c.Priority = 3; c.ReservedConcurrency = 1; c.QueueLimit = 10_000; c.QueueTimeout = Timeout.InfiniteTimeSpan; }));
        string[] classes = [Interactive, Reporting, Batch];
        int[] inFlight = new int[3];
        int[] maxSeen = new int[3];
        int total = 0;
        int outsideInteractive = 0;
        int maxTotal = 0;
        int maxOutsideInteractive = 0;

        Task[] workers = [.. Enumerable.Range(0, 8).Select(w => Task.Run(async () =>
        {
            for (int i = 0; i < 2_000; i++)
            {
                int k = (w + i) % 3;
                using WorkloadLease lease = await scheduler.AcquireAsync(classes[k]);
                Assert.True(lease.IsAcquired);
                InterlockedMax.Raise(ref maxSeen[k], Interlocked.Increment(ref inFlight[k]));
                InterlockedMax.Raise(ref maxTotal, Interlocked.Increment(ref total));
                if (k != 0)
                {
                    InterlockedMax.Raise(ref maxOutsideInteractive, Interlocked.Increment(ref outsideInteractive));
                }

                if (i % 7 == 0)
                {
                    await Task.Yield();
                }

                if (k != 0)
                {
                    Interlocked.Decrement(ref outsideInteractive);
                }

                Interlocked.Decrement(ref total);
                Interlocked.Decrement(ref inFlight[k]);
            }
        }))];
        await Task.WhenAll(workers).WaitAsync(TimeSpan.FromSeconds(60));

        // Counts are taken after acquiring and dropped before releasing, so they never exceed the seats truly held.
        Assert.InRange(maxTotal, 1, 4);
        Assert.InRange(maxSeen[1], 1, 2);
        Assert.InRange(maxOutsideInteractive, 1, 3);
        Assert.All(scheduler.GetSnapshot().Classes, c => Assert.Equal((0, 0), (c.InFlight, c.Queued)));
        Assert.Equal(16_000, scheduler.GetSnapshot().Classes.Sum(c => c.Admitted));
        Assert.Equal(0, scheduler.GetSnapshot().SharedInUse);
    }

    /// <summary>Fake time that counts the timers created on it.</summary>
    private sealed class TimerCountingTimeProvider : FakeTimeProvider
    {
        private readonly ConcurrentDictionary<TimerCallback, int> _timers = new();

        public int Timers => _timers.Values.Sum();

        public int TimersOf(TimerCallback callback) => _timers.GetValueOrDefault(callback);

        public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
        {
            _timers.AddOrUpdate(callback, 1, (_, n) => n + 1);
            return base.CreateTimer(callback, state, dueTime, period);
        }
    }
}
