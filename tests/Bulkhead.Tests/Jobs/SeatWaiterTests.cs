using Bulkhead.Admission.Internal;
using Bulkhead.Jobs.Internal;
using Bulkhead.Tests.Admission;
using Microsoft.Extensions.Time.Testing;

namespace Bulkhead.Tests.Jobs;

public sealed class SeatWaiterTests
{
    [Fact]
    public async Task WaitAsync_QueueTimesOut_TriesAgainAfterTheRetryDelayUntilASeatFrees()
    {
        var time = new FakeTimeProvider();
        using WorkloadScheduler scheduler = SchedulerFactory.Create(1, o => o.AddClass("batch", c => c.QueueTimeout = TimeSpan.FromSeconds(1)), time);
        WorkloadLease held = scheduler.TryAcquire("batch");
        var retries = new List<(WorkloadRejectionReason Reason, TimeSpan Delay)>();

        Task<WorkloadLease> waiting = SeatWaiter.WaitAsync(scheduler.Resolve("batch"), null, time, (r, d) => retries.Add((r, d)), CancellationToken.None);
        time.Advance(TimeSpan.FromSeconds(1));
        await Eventually.TrueAsync(() => retries.Count == 1, "the timed-out wait is retried");
        held.Dispose();
        time.Advance(TimeSpan.FromSeconds(1));

        using WorkloadLease lease = await waiting.WithTimeout();
        Assert.True(lease.IsAcquired);
        Assert.Equal([(WorkloadRejectionReason.QueueTimeout, TimeSpan.FromSeconds(1))], retries);
    }

    [Fact]
    public async Task WaitAsync_Stopped_ReturnsWithoutASeat()
    {
        using WorkloadScheduler scheduler = SchedulerFactory.Create(1, o => o.AddClass("batch"));
        using WorkloadLease held = scheduler.TryAcquire("batch");
        using var stopping = new CancellationTokenSource();

        Task<WorkloadLease> waiting = SeatWaiter.WaitAsync(scheduler.Resolve("batch"), null, TimeProvider.System, null, stopping.Token);
        await stopping.CancelAsync();

        Assert.False((await waiting.WithTimeout()).IsAcquired);
        Assert.Equal(0, scheduler.GetSnapshot()["batch"].Queued);
    }
}
