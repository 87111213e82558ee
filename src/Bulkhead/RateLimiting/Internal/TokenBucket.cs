namespace Bulkhead.RateLimiting.Internal;

/// <summary>
/// A token bucket replenished continuously, reading time through a <see cref="TimeProvider"/>.
/// </summary>
/// <remarks>
/// The semantics of System.Threading.RateLimiting's <c>PartitionedTokenBucketLimiter</c> (a capacity, a refill rate, an
/// exact retry-after), without its timer and system clock, so that a <c>FakeTimeProvider</c> drives it in tests and
/// no lease is allocated per permit.
/// </remarks>
internal sealed class TokenBucket
{
    private readonly Lock _lock = new();
    private readonly TimeProvider _timeProvider;
    private readonly double _permitsPerSecond;
    private readonly double _capacity;
    private double _tokens;
    private long _updated;

    public TokenBucket(double permitsPerSecond, int capacity, TimeProvider timeProvider)
    {
        _permitsPerSecond = permitsPerSecond;
        _capacity = capacity;
        _timeProvider = timeProvider;
        _tokens = capacity;
        _updated = timeProvider.GetTimestamp();
    }

    /// <summary>Takes one permit, or says how long until one is there.</summary>
    public bool TryTake(int permits, out TimeSpan retryAfter)
    {
        long now = _timeProvider.GetTimestamp();
        lock (_lock)
        {
            RefillUnsynchronized(now);
            if (_tokens >= permits)
            {
                _tokens -= permits;
                retryAfter = TimeSpan.Zero;
                return true;
            }

            // Round up to a whole tick: a retry after exactly this long finds the permit there.
            retryAfter = TimeSpan.FromTicks((long)Math.Ceiling((permits - _tokens) / _permitsPerSecond * TimeSpan.TicksPerSecond));
            return false;
        }
    }

    /// <summary>Whether the bucket is full now: such a bucket is the same as a new one, and may be forgotten.</summary>
    public bool IsFull()
    {
        long now = _timeProvider.GetTimestamp();
        lock (_lock)
        {
            RefillUnsynchronized(now);
            return _tokens >= _capacity;
        }
    }

    /// <summary>Gets the permits in the bucket at <paramref name="now"/> (a timestamp of the bucket's TimeProvider).</summary>
    public double Available(long now)
    {
        lock (_lock)
        {
            RefillUnsynchronized(now);
            return _tokens;
        }
    }

    private void RefillUnsynchronized(long now)
    {
        if (now <= _updated)
        {
            return;
        }

        double elapsedSeconds = _timeProvider.GetElapsedTime(_updated, now).TotalSeconds;
        _tokens = Math.Min(_capacity, _tokens + (elapsedSeconds * _permitsPerSecond));
        _updated = now;
    }
}
