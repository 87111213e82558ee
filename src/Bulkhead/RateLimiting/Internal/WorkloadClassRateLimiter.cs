using System.Threading.RateLimiting;

namespace Bulkhead.RateLimiting.Internal;

/// <summary>
/// A workload class as a platform <see cref="RateLimiter"/>: a permit is a seat of the class (a permit count is a
/// weight), taken with the class's priority, queue, rate limit and fleet caps, and freed when the lease is disposed.
/// </summary>
internal sealed class WorkloadClassRateLimiter(IWorkloadScheduler scheduler, WorkloadClass workloadClass, string? partition) : RateLimiter
{
    public override TimeSpan? IdleDuration => null;

    public override RateLimiterStatistics? GetStatistics() => SeatPermits.Statistics(scheduler, workloadClass.Name);

    protected override RateLimitLease AttemptAcquireCore(int permitCount) =>
        new SeatLease(workloadClass.TryAcquire(SeatPermits.Request(partition, permitCount)));

    protected override async ValueTask<RateLimitLease> AcquireAsyncCore(int permitCount, CancellationToken cancellationToken) =>
        new SeatLease(await workloadClass.AcquireAsync(SeatPermits.Request(partition, permitCount), cancellationToken).ConfigureAwait(false));
}

/// <summary>
/// A workload class as a platform <see cref="PartitionedRateLimiter{TResource}"/>: each resource's partition (a tenant,
/// a user) is the class's partition, for its per-partition caps and rate limits.
/// </summary>
internal sealed class WorkloadClassPartitionedRateLimiter<TResource>(IWorkloadScheduler scheduler, WorkloadClass workloadClass, Func<TResource, string?> partition) : PartitionedRateLimiter<TResource>
{
    public override RateLimiterStatistics? GetStatistics(TResource resource) => SeatPermits.Statistics(scheduler, workloadClass.Name);

    protected override RateLimitLease AttemptAcquireCore(TResource resource, int permitCount) =>
        new SeatLease(workloadClass.TryAcquire(SeatPermits.Request(partition(resource), permitCount)));

    protected override async ValueTask<RateLimitLease> AcquireAsyncCore(TResource resource, int permitCount, CancellationToken cancellationToken) =>
        new SeatLease(await workloadClass.AcquireAsync(SeatPermits.Request(partition(resource), permitCount), cancellationToken).ConfigureAwait(false));
}

/// <summary>What the two adapters share: a permit count as a request, and the class's figures as statistics.</summary>
internal static class SeatPermits
{
    /// <summary>The request for <paramref name="permitCount"/> seats: the platform's permits are the class's seats.</summary>
    public static WorkloadRequest Request(string? partition, int permitCount) =>
        permitCount >= 1
            ? new WorkloadRequest(partition) { Weight = permitCount }
            : throw new ArgumentOutOfRangeException(nameof(permitCount), permitCount, "A workload class gives seats, at least one: it cannot be asked whether one is free without taking it.");

    /// <summary>The class's seats free, queue and counts, as the platform reports them (from a snapshot: not for every call).</summary>
    public static RateLimiterStatistics? Statistics(IWorkloadScheduler scheduler, string workloadClass) =>
        scheduler.GetSnapshot().Classes.FirstOrDefault(c => c.Name == workloadClass) is { } snapshot
            ? new RateLimiterStatistics
            {
                CurrentAvailablePermits = Math.Max(0, snapshot.MaxConcurrency - snapshot.InFlight),
                CurrentQueuedCount = snapshot.Queued,
                TotalFailedLeases = snapshot.Rejected,
                TotalSuccessfulLeases = snapshot.Admitted,
            }
            : null;
}
