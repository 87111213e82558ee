using System.Collections.Concurrent;

namespace Bulkhead.RateLimiting.Internal;

/// <summary>
/// A class's rate limit: one bucket for the class, or one per partition. Partition buckets are bounded: full (idle)
/// buckets are forgotten when the count reaches the cap, and past the cap keys share a fixed set of buckets by hash.
/// </summary>
internal sealed class ClassRateLimiter
{
    /// <summary>How many shared buckets take the keys past the cap.</summary>
    public const int OverflowBuckets = 64;

    private readonly double _permitsPerSecond;
    private readonly int _capacity;
    private readonly TimeProvider _timeProvider;
    private readonly TokenBucket? _classBucket;
    private readonly ConcurrentDictionary<string, TokenBucket>? _partitions;
    private readonly TokenBucket[]? _overflow;
    private readonly int _maxTrackedPartitions;
    private readonly long _refillTicks;
    private int _sweeping;
    private long _sweepNotBefore;

    public ClassRateLimiter(WorkloadRateLimitOptions options, int maxTrackedPartitions, TimeProvider timeProvider)
    {
        _permitsPerSecond = options.PermitsPerSecond;
        _capacity = options.Burst ?? Math.Max(1, (int)Math.Ceiling(options.PermitsPerSecond));
        _timeProvider = timeProvider;
        _maxTrackedPartitions = maxTrackedPartitions;
        _refillTicks = (long)Math.Ceiling(_capacity / _permitsPerSecond * timeProvider.TimestampFrequency);
        if (options.PerPartition)
        {
            _partitions = new ConcurrentDictionary<string, TokenBucket>(StringComparer.Ordinal);
            _overflow = [.. Enumerable.Range(0, OverflowBuckets).Select(_ => NewBucket())];
        }
        else
        {
            _classBucket = NewBucket();
        }
    }

    public int TrackedPartitions => _partitions?.Count ?? 0;

    public bool TryAcquire(string? partition, out TimeSpan retryAfter) =>
        BucketFor(partition ?? string.Empty).TryTake(out retryAfter);

    private TokenBucket BucketFor(string partition)
    {
        if (_partitions is null)
        {
            return _classBucket!;
        }

        if (_partitions.TryGetValue(partition, out TokenBucket? bucket))
        {
            return bucket;
        }

        if (_partitions.Count >= _maxTrackedPartitions)
        {
            ForgetFullBuckets();
            if (_partitions.Count >= _maxTrackedPartitions)
            {
                return _overflow![(int)((uint)StringComparer.Ordinal.GetHashCode(partition) % OverflowBuckets)];
            }
        }

        return _partitions.GetOrAdd(partition, static (_, self) => self.NewBucket(), this);
    }

    /// <summary>
    /// Drops buckets that have refilled: a full bucket is the same as a new one. One thread sweeps at a time, and at
    /// most once per refill time (no bucket can refill sooner), so a flood of new keys costs no more than one sweep per
    /// refill time. A permit taken from a bucket as it is dropped is at most one burst given away.
    /// </summary>
    private void ForgetFullBuckets()
    {
        long now = _timeProvider.GetTimestamp();
        if (now < Volatile.Read(ref _sweepNotBefore) || Interlocked.Exchange(ref _sweeping, 1) != 0)
        {
            return;
        }

        Volatile.Write(ref _sweepNotBefore, now + _refillTicks);

        try
        {
            foreach ((string key, TokenBucket bucket) in _partitions!)
            {
                if (bucket.IsFull())
                {
                    _partitions.TryRemove(new KeyValuePair<string, TokenBucket>(key, bucket));
                }
            }
        }
        finally
        {
            Volatile.Write(ref _sweeping, 0);
        }
    }

    private TokenBucket NewBucket() => new(_permitsPerSecond, _capacity, _timeProvider);
}
