using Bulkhead.Admission.Internal;

namespace Bulkhead.Tests.Admission;

/// <summary>Races of the lock-free path, played out one step at a time through the engine's test seam (in Debug and Release builds alike).</summary>
public sealed class AdmissionRaceTests
{
    [Fact]
    public async Task SharedClaimHandedBack_BecauseAReservedSeatFreedMeanwhile_WakesTheWaiterItBlocked()
    {
        // Two seats: b reserves one, the other is the shared pool; c has no reservation.
        using WorkloadScheduler scheduler = SchedulerFactory.CreateWhiteBox(2, o => o
            .AddClass("b", c => c.ReservedConcurrency = 1)
            .AddClass("c", c => { c.Priority = 1; c.QueueTimeout = Timeout.InfiniteTimeSpan; }));
        WorkloadLease held = scheduler.TryAcquire("b");
        Assert.True(held.IsAcquired);
        ValueTask<WorkloadLease> waiting = default;
        scheduler.Engine.AfterSharedClaimForTest = () =>
        {
            // b's second admission holds the only shared seat for a moment: now b's reserved seat frees, and c, finding
            // the pool full, queues.
            scheduler.Engine.AfterSharedClaimForTest = null;
            held.Dispose();
            waiting = scheduler.AcquireAsync("c");
        };

        using WorkloadLease second = scheduler.TryAcquire("b");

        // b took its freed reserved seat and handed the shared one back: c must get it, not wait for some other release.
        Assert.True(second.IsAcquired);
        using WorkloadLease woken = await waiting.AsTask().WaitAsync(TimeSpan.FromSeconds(10));
        Assert.True(woken.IsAcquired);
        Assert.Equal(0, scheduler.GetSnapshot()["c"].Queued);
    }
}
