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
}
