using Bulkhead.Admission.Internal;
using Bulkhead.Jobs.Internal;
using Bulkhead.Tests.Admission;
using Microsoft.Extensions.Time.Testing;

namespace Bulkhead.Tests.Jobs;

public sealed class SeatWaiterTests
{
    [Fact]
    public async Task WaitAsync_PastTheQueueTimeoutAndLimit_KeepsItsPlaceUntilASeatFrees()
    {
        var time = new FakeTimeProvider();
        using WorkloadScheduler scheduler = SchedulerFactory.CreateWhiteBox(1, o => o.AddClass("batch", c => { c.QueueTimeout = TimeSpan.FromSeconds(1); c.QueueLimit = 1; }), time);
        WorkloadLease held = scheduler.TryAcquire("batch");
        var retries = new List<(WorkloadRejectionReason Reason, TimeSpan Delay)>();

        Task<WorkloadLease> first = SeatWaiter.WaitAsync(scheduler.Resolve("batch"), default, time, (r, d) => retries.Add((r, d)), CancellationToken.None);
        Task<WorkloadLease> second = SeatWaiter.WaitAsync(scheduler.Resolve("batch"), default, time, (r, d) => retries.Add((r, d)), CancellationToken.None);
        time.Advance(TimeSpan.FromMinutes(10));

        Assert.Equal(2, scheduler.GetSnapshot()["batch"].Queued);
        Assert.False(first.IsCompleted || second.IsCompleted);
        held.Dispose();
        using WorkloadLease lease = await first.WithTimeout();
        Assert.True(lease.IsAcquired);
        Assert.Empty(retries);
        Assert.False(second.IsCompleted);
        lease.Dispose();
        (await second.WithTimeout()).Dispose();
    }

    [Fact]
    public async Task WaitAsync_RateLimited_TriesAgainAfterTheRetryAfter()
    {
        var time = new FakeTimeProvider();
        using WorkloadScheduler scheduler = SchedulerFactory.CreateWhiteBox(4, o => o.AddClass("batch", c => c.RateLimit = new WorkloadRateLimitOptions { PermitsPerSecond = 1, Burst = 1 }), time);
        scheduler.TryAcquire("batch").Dispose();
        var retries = new List<(WorkloadRejectionReason Reason, TimeSpan Delay)>();

        Task<WorkloadLease> waiting = SeatWaiter.WaitAsync(scheduler.Resolve("batch"), default, time, (r, d) => retries.Add((r, d)), CancellationToken.None);
        Assert.Equal([(WorkloadRejectionReason.RateLimited, TimeSpan.FromSeconds(1))], retries);
        time.Advance(TimeSpan.FromSeconds(1));

        using WorkloadLease lease = await waiting.WithTimeout();
        Assert.True(lease.IsAcquired);
    }

    [Fact]
    public async Task WaitAsync_Stopped_ReturnsWithoutASeat()
    {
        using WorkloadScheduler scheduler = SchedulerFactory.CreateWhiteBox(1, o => o.AddClass("batch"));
        using WorkloadLease held = scheduler.TryAcquire("batch");
        using var stopping = new CancellationTokenSource();

        Task<WorkloadLease> waiting = SeatWaiter.WaitAsync(scheduler.Resolve("batch"), default, TimeProvider.System, null, stopping.Token);
        await stopping.CancelAsync();

        Assert.False((await waiting.WithTimeout()).IsAcquired);
        Assert.Equal(0, scheduler.GetSnapshot()["batch"].Queued);
    }
}
