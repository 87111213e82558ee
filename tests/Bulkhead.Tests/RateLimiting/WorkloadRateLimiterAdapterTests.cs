using System.Threading.RateLimiting;
using Microsoft.Extensions.Time.Testing;

namespace Bulkhead.Tests.RateLimiting;

/// <summary>A workload class as the platform's <see cref="RateLimiter"/> and <see cref="PartitionedRateLimiter{TResource}"/>: permits are its seats.</summary>
public sealed class WorkloadRateLimiterAdapterTests : IDisposable
{
    private readonly FakeTimeProvider _time = new();
    private TestScheduler? _scheduler;

    public void Dispose() => _scheduler?.Dispose();

    [Fact]
    public void Permits_AreSeatsOfTheClass_AndDisposingTheLeaseFreesThemOnce()
    {
        RateLimiter limiter = Scheduler(c => c.MaxConcurrency = 4).CreateRateLimiter("reports");

        RateLimitLease lease = limiter.AttemptAcquire(3);
        Assert.True(lease.IsAcquired);
        Assert.Equal(3, Reports().InFlight);

        lease.Dispose();
        lease.Dispose();
        Assert.Equal((0, 1L), (Reports().InFlight, Reports().Admitted));
    }

    [Fact]
    public void ARefusal_SaysWhyAndWhenToRetry_AsThePlatformsLeasesDo()
    {
        RateLimiter limiter = Scheduler(c => c.RateLimit = new WorkloadRateLimitOptions { PermitsPerSecond = 0.5, Burst = 1 }).CreateRateLimiter("reports");

        using RateLimitLease first = limiter.AttemptAcquire();
        using RateLimitLease refused = limiter.AttemptAcquire();

        Assert.True(first.IsAcquired);
        Assert.False(refused.IsAcquired);
        Assert.True(refused.TryGetMetadata(MetadataName.RetryAfter, out TimeSpan retryAfter));
        Assert.Equal(TimeSpan.FromSeconds(2), retryAfter);
        Assert.True(refused.TryGetMetadata(MetadataName.ReasonPhrase, out string? reason));
        Assert.Equal("Workload class 'reports' refused it: RateLimited", reason);
        Assert.Equal([MetadataName.RetryAfter.Name, MetadataName.ReasonPhrase.Name], refused.MetadataNames);
        Assert.Empty(first.MetadataNames);
    }

    [Fact]
    public async Task AcquireAsync_WaitsInTheClassesQueue_AndOneCanceledWhileWaitingHoldsNothing()
    {
        RateLimiter limiter = Scheduler(c => { c.MaxConcurrency = 1; c.QueueLimit = 4; }).CreateRateLimiter("reports");
        RateLimitLease held = await limiter.AcquireAsync().AsTask().WithTimeout();
        ValueTask<RateLimitLease> waiting = limiter.AcquireAsync();
        using var leaving = new CancellationTokenSource();
        ValueTask<RateLimitLease> canceled = limiter.AcquireAsync(1, leaving.Token);
        Assert.Equal(2, Reports().Queued);

        await leaving.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => canceled.AsTask().WithTimeout());
        held.Dispose();
        using RateLimitLease granted = await waiting.AsTask().WithTimeout();

        Assert.True(granted.IsAcquired);
        Assert.Equal((1, 0, 1L), (Reports().InFlight, Reports().Queued, Reports().Canceled));
    }

    [Fact]
    public void Partitioned_EachResourcesPartitionHasTheClassesPerPartitionCap()
    {
        PartitionedRateLimiter<string> limiter = Scheduler(c => { c.MaxConcurrencyPerPartition = 1; c.QueueLimit = 0; })
            .CreatePartitionedRateLimiter<string>("reports", tenant => tenant);

        using RateLimitLease a = limiter.AttemptAcquire("tenant-a");
        using RateLimitLease again = limiter.AttemptAcquire("tenant-a");
        using RateLimitLease b = limiter.AttemptAcquire("tenant-b");

        Assert.Equal((true, false, true), (a.IsAcquired, again.IsAcquired, b.IsAcquired));
    }

    [Fact]
    public void Statistics_AreTheClassesSeatsQueueAndCounts()
    {
        RateLimiter limiter = Scheduler(c => { c.MaxConcurrency = 2; c.QueueLimit = 0; }).CreateRateLimiter("reports");
        using RateLimitLease one = limiter.AttemptAcquire();
        using RateLimitLease two = limiter.AttemptAcquire();
        using RateLimitLease refused = limiter.AttemptAcquire();

        RateLimiterStatistics statistics = limiter.GetStatistics()!;

        Assert.Equal((0L, 0L, 2L, 1L), (statistics.CurrentAvailablePermits, statistics.CurrentQueuedCount, statistics.TotalSuccessfulLeases, statistics.TotalFailedLeases));

        // A full class with no queue knows no time to retry: the refusal says why, and names no retry-after.
        Assert.False(refused.TryGetMetadata(MetadataName.RetryAfter, out _));
        Assert.Equal([MetadataName.ReasonPhrase.Name], refused.MetadataNames);
    }

    [Fact]
    public void BadArguments_AreRefusedWhereTheyAreGiven()
    {
        TestScheduler scheduler = Scheduler(_ => { });

        Assert.Throws<ArgumentOutOfRangeException>(() => scheduler.CreateRateLimiter("reports").AttemptAcquire(0));
        ArgumentException unknown = Assert.Throws<ArgumentException>(() => scheduler.CreateRateLimiter("report"));
        Assert.Contains("'report' is not a configured workload class", unknown.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentNullException>(() => scheduler.CreatePartitionedRateLimiter<string>("reports", null!));
    }

    private WorkloadClassSnapshot Reports() => _scheduler!.GetSnapshot()["reports"];

    private TestScheduler Scheduler(Action<WorkloadClassOptions> reports)
    {
        var options = new WorkloadIsolationOptions { TotalConcurrency = 8, DefaultClass = "interactive" };
        options.AddClass("interactive", c => c.Priority = 0);
        options.AddClass("reports", c =>
        {
            c.Priority = 2;
            c.QueueTimeout = Timeout.InfiniteTimeSpan;
            reports(c);
        });
        _scheduler = TestScheduler.Create(options, _time);
        return _scheduler;
    }
}
