using Bulkhead.RateLimiting.Internal;
using Microsoft.Extensions.Time.Testing;

namespace Bulkhead.Tests.RateLimiting;

public sealed class TokenBucketTests
{
    [Fact]
    public void TryTake_FullBucket_GivesItsBurstThenRejectsWithExactRetryAfter()
    {
        var time = new FakeTimeProvider();
        var bucket = new TokenBucket(permitsPerSecond: 4, capacity: 2, time);

        Assert.True(bucket.TryTake(1, out _));
        Assert.True(bucket.TryTake(1, out _));
        Assert.False(bucket.TryTake(1, out TimeSpan retryAfter));

        Assert.Equal(TimeSpan.FromMilliseconds(250), retryAfter);
    }

    [Fact]
    public void TryTake_AfterRetryAfter_Succeeds_NotBefore()
    {
        var time = new FakeTimeProvider();
        var bucket = new TokenBucket(permitsPerSecond: 3, capacity: 1, time);
        Assert.True(bucket.TryTake(1, out _));
        Assert.False(bucket.TryTake(1, out TimeSpan retryAfter));

        time.Advance(retryAfter - TimeSpan.FromTicks(1));
        Assert.False(bucket.TryTake(1, out TimeSpan rest));
        Assert.Equal(TimeSpan.FromTicks(1), rest);
        time.Advance(TimeSpan.FromTicks(1));

        Assert.True(bucket.TryTake(1, out _));
    }

    [Fact]
    public void TryTake_LongIdle_RefillsOnlyToCapacity()
    {
        var time = new FakeTimeProvider();
        var bucket = new TokenBucket(permitsPerSecond: 10, capacity: 3, time);
        for (int i = 0; i < 3; i++)
        {
            Assert.True(bucket.TryTake(1, out _));
        }

        time.Advance(TimeSpan.FromHours(1));

        Assert.Equal(3, Enumerable.Range(0, 10).Count(_ => bucket.TryTake(1, out TimeSpan _)));
    }

    [Fact]
    public void IsFull_AfterUseAndRefill_TellsWhenTheBucketCanBeForgotten()
    {
        var time = new FakeTimeProvider();
        var bucket = new TokenBucket(permitsPerSecond: 2, capacity: 2, time);
        Assert.True(bucket.IsFull());
        bucket.TryTake(1, out _);
        Assert.False(bucket.IsFull());

        time.Advance(TimeSpan.FromMilliseconds(500));

        Assert.True(bucket.IsFull());
    }

    [Fact]
    public async Task SystemClock_TheCoarseClockNeverGrantsMoreThanTheRateAllows()
    {
        // On the system clock the bucket reads Environment.TickCount64: over any span, at most the capacity plus the
        // rate times the span is granted, and a bucket left alone for longer than a tick is full again.
        long start = Environment.TickCount64;
        var bucket = new TokenBucket(permitsPerSecond: 1_000, capacity: 5, TimeProvider.System);
        int granted = 0;
        while (Environment.TickCount64 - start < 100)
        {
            granted += bucket.TryTake(1, out _) ? 1 : 0;
        }

        long elapsed = Environment.TickCount64 - start;
        Assert.InRange(granted, 1, 5 + elapsed);

        await Task.Delay(TimeSpan.FromMilliseconds(60));
        Assert.True(bucket.IsFull());
        Assert.True(bucket.TryTake(5, out _));
    }
}
