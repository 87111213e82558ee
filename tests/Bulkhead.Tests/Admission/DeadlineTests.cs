using Microsoft.Extensions.Time.Testing;

namespace Bulkhead.Tests.Admission;

/// <summary>
/// A caller's deadline (<see cref="WorkloadRequest.Deadline"/>): work nobody waits for any more never takes a seat, and
/// leaves the queue when its caller stops waiting, before its class's queue timeout if that comes later.
/// </summary>
public sealed class DeadlineTests
{
    [Fact]
    public async Task WorkPastItsCallersDeadline_IsRefusedBeforeItTakesASeat_EvenWithSeatsFree()
    {
        var time = new FakeTimeProvider();
        using TestScheduler scheduler = SchedulerFactory.Create(4, o => o.AddClass("api"), time);
        WorkloadClass api = scheduler.GetClass("api");
        DateTimeOffset passed = time.GetUtcNow() - TimeSpan.FromMilliseconds(1);

        WorkloadLease tried = api.TryAcquire(new WorkloadRequest("t") { Deadline = passed });
        WorkloadLease asked = await api.AcquireAsync(new WorkloadRequest("t") { Deadline = time.GetUtcNow() });
        WorkloadLease background = await api.AcquireAsync(new WorkloadRequest("t") { Deadline = passed, Background = true });

        Assert.All([tried, asked, background], lease => Assert.Equal(WorkloadRejectionReason.DeadlineExceeded, lease.RejectionReason));
        Assert.All([tried, asked, background], lease => Assert.Null(lease.RetryAfter));
        WorkloadClassSnapshot snapshot = scheduler.GetSnapshot().Classes.Single();
        Assert.Equal((0, 3L, 3L), (snapshot.InFlight, snapshot.Rejected, snapshot.RejectedByReason[WorkloadRejectionReason.DeadlineExceeded]));

        // A deadline still ahead changes nothing while a seat is free.
        using WorkloadLease inTime = await api.AcquireAsync(new WorkloadRequest("t") { Deadline = time.GetUtcNow() + TimeSpan.FromMilliseconds(1) });
        Assert.True(inTime.IsAcquired);
    }

    [Fact]
    public async Task QueuedWork_LeavesAtItsCallersDeadline_OrAtTheQueueTimeout_WhicheverComesFirst()
    {
        var time = new FakeTimeProvider();
        using TestScheduler scheduler = SchedulerFactory.Create(1, o => o.AddClass("api", c => (c.QueueLimit, c.QueueTimeout) = (10, TimeSpan.FromSeconds(2))), time);
        WorkloadClass api = scheduler.GetClass("api");
        using WorkloadLease running = api.TryAcquire();
        DateTimeOffset now = time.GetUtcNow();

        Task<WorkloadLease> soon = api.AcquireAsync(new WorkloadRequest("a") { Deadline = now + TimeSpan.FromSeconds(1) }).AsTask();
        Task<WorkloadLease> late = api.AcquireAsync(new WorkloadRequest("b") { Deadline = now + TimeSpan.FromSeconds(5) }).AsTask();
        Task<WorkloadLease> tie = api.AcquireAsync(new WorkloadRequest("c") { Deadline = now + TimeSpan.FromSeconds(2) }).AsTask();
        Task<WorkloadLease> backgroundWork = api.AcquireAsync(new WorkloadRequest("d") { Deadline = now + TimeSpan.FromSeconds(3), Background = true }).AsTask();
        Assert.Equal(4, scheduler.GetSnapshot().Classes.Single().Queued);

        time.Advance(TimeSpan.FromMilliseconds(999));
        Assert.False(soon.IsCompleted);
        time.Advance(TimeSpan.FromMilliseconds(1));
        Assert.Equal(WorkloadRejectionReason.DeadlineExceeded, (await soon.WithTimeout()).RejectionReason);

        // At two seconds the queue timeout and the third caller's deadline fall together: the deadline is the reason.
        time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(WorkloadRejectionReason.QueueTimeout, (await late.WithTimeout()).RejectionReason);
        Assert.Equal(WorkloadRejectionReason.DeadlineExceeded, (await tie.WithTimeout()).RejectionReason);

        // Background work has no queue timeout, but its caller's deadline holds.
        Assert.False(backgroundWork.IsCompleted);
        time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(WorkloadRejectionReason.DeadlineExceeded, (await backgroundWork.WithTimeout()).RejectionReason);

        WorkloadClassSnapshot snapshot = scheduler.GetSnapshot().Classes.Single();
        Assert.Equal((1, 0, 3L, 1L), (snapshot.InFlight, snapshot.Queued, snapshot.RejectedByReason[WorkloadRejectionReason.DeadlineExceeded], snapshot.RejectedByReason[WorkloadRejectionReason.QueueTimeout]));
    }

    [Fact]
    public async Task QueuedWork_ServedBeforeItsDeadline_RunsToItsEnd()
    {
        var time = new FakeTimeProvider();
        using TestScheduler scheduler = SchedulerFactory.Create(1, o => o.AddClass("api", c => c.QueueLimit = 10), time);
        WorkloadClass api = scheduler.GetClass("api");
        WorkloadLease running = api.TryAcquire();
        Task<WorkloadLease> waiting = api.AcquireAsync(new WorkloadRequest { Deadline = time.GetUtcNow() + TimeSpan.FromSeconds(1) }).AsTask();

        time.Advance(TimeSpan.FromMilliseconds(500));
        running.Dispose();
        using WorkloadLease served = await waiting.WithTimeout();
        Assert.True(served.IsAcquired);

        // Past the deadline, the work that got its seat keeps it: only waiting ends at a deadline.
        time.Advance(TimeSpan.FromSeconds(5));
        Assert.Equal(1, scheduler.GetSnapshot().Classes.Single().InFlight);
    }
}
