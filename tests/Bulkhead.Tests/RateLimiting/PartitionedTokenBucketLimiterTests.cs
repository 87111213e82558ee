using Bulkhead.Admission.Internal;
using Bulkhead.RateLimiting.Internal;
using Bulkhead.Tests.Admission;
using Microsoft.Extensions.Time.Testing;

namespace Bulkhead.Tests.RateLimiting;

public sealed class PartitionedTokenBucketLimiterTests
{
    [Fact]
    public void Acquire_OverTheClassRate_RejectsAtOnceWithRetryAfterAndHoldsNoSeat()
    {
        var time = new FakeTimeProvider();
        using WorkloadScheduler scheduler = SchedulerFactory.CreateWhiteBox(8, o => o.AddClass("reporting", c =>
        {
            c.QueueLimit = 10;
            c.RateLimit = new WorkloadRateLimitOptions { PermitsPerSecond = 2, Burst = 2 };
        }), time);

        using WorkloadLease first = scheduler.TryAcquire("reporting");
        using WorkloadLease second = scheduler.TryAcquire("reporting");
        WorkloadLease third = scheduler.TryAcquire("reporting");

        Assert.True(first.IsAcquired && second.IsAcquired);
        Assert.Equal(WorkloadRejectionReason.RateLimited, third.RejectionReason);
        Assert.Equal(TimeSpan.FromMilliseconds(500), third.RetryAfter);
        WorkloadClassSnapshot snapshot = scheduler.GetSnapshot()["reporting"];
        Assert.Equal((2, 0, 1L), (snapshot.InFlight, snapshot.Queued, snapshot.Rejected));
        time.Advance(third.RetryAfter!.Value);
        using WorkloadLease fourth = scheduler.TryAcquire("reporting");
        Assert.True(fourth.IsAcquired);
    }

    [Fact]
    public async Task AcquireAsync_OverTheRate_NeverQueues()
    {
        using WorkloadScheduler scheduler = SchedulerFactory.CreateWhiteBox(1, o => o.AddClass("reporting", c =>
            c.RateLimit = new WorkloadRateLimitOptions { PermitsPerSecond = 1, Burst = 2 }));
        using WorkloadLease held = scheduler.TryAcquire("reporting");
        ValueTask<WorkloadLease> queued = scheduler.AcquireAsync("reporting");

        WorkloadLease limited = await scheduler.AcquireAsync("reporting").WithTimeout();

        Assert.False(queued.IsCompleted);
        Assert.Equal(WorkloadRejectionReason.RateLimited, limited.RejectionReason);
        Assert.Equal(TimeSpan.FromSeconds(1), limited.RetryAfter);
        Assert.Equal(1, scheduler.GetSnapshot()["reporting"].Queued);
    }

    [Fact]
    public async Task RunAsync_RateLimited_ThrowsWithRetryAfter()
    {
        using WorkloadScheduler scheduler = SchedulerFactory.CreateWhiteBox(4, o => o.AddClass("batch", c =>
            c.RateLimit = new WorkloadRateLimitOptions { PermitsPerSecond = 0.5, Burst = 1 }));
        await scheduler.RunAsync("batch", _ => ValueTask.CompletedTask).WithTimeout();

        WorkloadRejectedException exception = await Assert.ThrowsAsync<WorkloadRejectedException>(
            () => scheduler.RunAsync("batch", _ => ValueTask.CompletedTask).WithTimeout());

        Assert.Equal((WorkloadRejectionReason.RateLimited, TimeSpan.FromSeconds(2)), (exception.Reason, exception.RetryAfter));
    }

    [Fact]
    public void PerPartition_EachPartitionHasItsOwnBucket()
    {
        using WorkloadScheduler scheduler = SchedulerFactory.CreateWhiteBox(16, o => o.AddClass("reporting", c =>
            c.RateLimit = new WorkloadRateLimitOptions { PermitsPerSecond = 1, Burst = 1, PerPartition = true }));

        WorkloadLease a1 = scheduler.TryAcquire("reporting", "tenant-a");
        WorkloadLease a2 = scheduler.TryAcquire("reporting", "tenant-a");
        WorkloadLease b1 = scheduler.TryAcquire("reporting", "tenant-b");
        WorkloadLease none1 = scheduler.TryAcquire("reporting");
        WorkloadLease none2 = scheduler.TryAcquire("reporting");

        Assert.Equal([true, false, true, true, false], new[] { a1, a2, b1, none1, none2 }.Select(l => l.IsAcquired));
    }

    [Fact]
    public void GetRateLimitState_FollowsEachPartitionsBucket_WithoutTakingAPermit()
    {
        var time = new FakeTimeProvider();
        using WorkloadScheduler scheduler = SchedulerFactory.CreateWhiteBox(16, o => o
            .AddClass("reporting", c => c.RateLimit = new WorkloadRateLimitOptions { PermitsPerSecond = 4, Burst = 8, PerPartition = true })
            .AddClass("free", c => c.Priority = 1), time);
        WorkloadClass reporting = scheduler.GetClass("reporting");
        for (int i = 0; i < 3; i++)
        {
            reporting.TryAcquire("tenant-a").Dispose();
        }

        Assert.Equal(new WorkloadRateLimitState(8, TimeSpan.FromSeconds(2), 5, TimeSpan.FromSeconds(0.75)), reporting.GetRateLimitState("tenant-a"));
        Assert.Equal(reporting.GetRateLimitState("tenant-a"), reporting.GetRateLimitState("tenant-a"));       // reading takes nothing
        Assert.Equal(new WorkloadRateLimitState(8, TimeSpan.FromSeconds(2), 8, TimeSpan.Zero), reporting.GetRateLimitState("tenant-new"));
        time.Advance(TimeSpan.FromSeconds(0.5));
        Assert.Equal(new WorkloadRateLimitState(8, TimeSpan.FromSeconds(2), 7, TimeSpan.FromSeconds(0.25)), reporting.GetRateLimitState("tenant-a"));
        Assert.Null(scheduler.GetClass("free").GetRateLimitState());
    }

    [Fact]
    public void BurstNotSet_IsOneSecondOfPermits()
    {
        using WorkloadScheduler scheduler = SchedulerFactory.CreateWhiteBox(64, o => o.AddClass("reporting", c =>
            c.RateLimit = new WorkloadRateLimitOptions { PermitsPerSecond = 2.5 }));

        int admitted = Enumerable.Range(0, 10).Count(_ => scheduler.TryAcquire("reporting").IsAcquired);

        Assert.Equal(3, admitted);
    }

    [Fact]
    public void ManyDistinctKeys_TrackedBucketsNeverExceedTheCap()
    {
        var time = new FakeTimeProvider();
        var limiter = new PartitionedTokenBucketLimiter(new WorkloadRateLimitOptions { PermitsPerSecond = 1, Burst = 1, PerPartition = true }, maxTrackedPartitions: 100, time);

        for (int i = 0; i < 10_000; i++)
        {
            Assert.True(limiter.TryAcquire($"key-{i}", out _), "A new key has an allowance of its own.");
            Assert.True(limiter.TrackedPartitions <= 100, "Tracked buckets stay at or below the cap.");
        }

        Assert.Equal(100, limiter.TrackedPartitions);
    }

    [Fact]
    public async Task ManyDistinctKeysFromManyThreads_TrackedBucketsNeverExceedTheCap()
    {
        var limiter = new PartitionedTokenBucketLimiter(new WorkloadRateLimitOptions { PermitsPerSecond = 1, Burst = 1, PerPartition = true }, maxTrackedPartitions: 50, new FakeTimeProvider());
        int most = 0;

        await Task.WhenAll(Enumerable.Range(0, 4).Select(t => Task.Run(() =>
        {
            for (int i = 0; i < 5_000; i++)
            {
                limiter.TryAcquire($"t{t}-key-{i}", out _);
                int tracked = limiter.TrackedPartitions;
                int seen = Volatile.Read(ref most);
                while (tracked > seen && Interlocked.CompareExchange(ref most, tracked, seen) != seen)
                {
                    seen = Volatile.Read(ref most);
                }
            }
        }))).WithTimeout();

        Assert.Equal(50, most);
    }

    [Fact]
    public void NewKeyPastTheCap_GetsAFreshAllowanceInPlaceOfTheFullestBucket()
    {
        var time = new FakeTimeProvider();
        var limiter = new PartitionedTokenBucketLimiter(new WorkloadRateLimitOptions { PermitsPerSecond = 1, Burst = 2, PerPartition = true }, maxTrackedPartitions: 3, time);
        limiter.TryAcquire("busy-1", out _);
        limiter.TryAcquire("busy-1", out _);
        limiter.TryAcquire("idle", out _);
        limiter.TryAcquire("busy-2", out _);
        limiter.TryAcquire("busy-2", out _);

        // A newcomer past the cap is admitted on its own bucket: the emptied buckets of busy tenants are kept, the one
        // with the most permits left (the idle tenant's) is the one replaced.
        Assert.True(limiter.TryAcquire("newcomer", out _));
        Assert.True(limiter.TryAcquire("newcomer", out _));
        Assert.False(limiter.TryAcquire("newcomer", out _));
        Assert.False(limiter.TryAcquire("busy-1", out _));
        Assert.False(limiter.TryAcquire("busy-2", out _));
        Assert.Equal(3, limiter.TrackedPartitions);
    }

    [Fact]
    public void ExtremeButValidRate_NewKeysPastTheCapAreAdmittedAndTheCapHolds()
    {
        // The refill time of this bucket does not fit in a long: nothing may depend on it.
        var limiter = new PartitionedTokenBucketLimiter(new WorkloadRateLimitOptions { PermitsPerSecond = 0.001, Burst = int.MaxValue, PerPartition = true }, maxTrackedPartitions: 1_000, new FakeTimeProvider());
        for (int i = 0; i < 1_000; i++)
        {
            Assert.True(limiter.TryAcquire($"key-{i}", out _));
        }

        for (int i = 0; i < 1_000; i++)
        {
            Assert.True(limiter.TryAcquire($"new-{i}", out _));
        }

        Assert.Equal(1_000, limiter.TrackedPartitions);
    }
}
