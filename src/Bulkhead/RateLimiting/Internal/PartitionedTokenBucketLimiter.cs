using System.Collections.Concurrent;
using System.Diagnostics.CodeAnalysis;
using System.Threading.RateLimiting;

namespace Bulkhead.RateLimiting.Internal;

/// <summary>
/// The built-in admission check of a class: a token bucket for the class, or one per partition, on a
/// <see cref="TimeProvider"/>. Partition buckets are bounded: full (idle) buckets are forgotten when the count reaches
/// the cap, and past the cap keys share a fixed set of buckets by hash.
/// </summary>
/// <remarks>
/// It is a <see cref="PartitionedRateLimiter{TResource}"/> like any other a class may use, and the engine calls
/// <see cref="TryAcquire"/> directly so that checking it allocates nothing.
/// </remarks>
internal sealed class PartitionedTokenBucketLimiter : PartitionedRateLimiter<string>
{
    /// <summary>How many shared buckets take the keys past the cap.</summary>
    public const int OverflowBuckets = 64;

    private readonly double _permitsPerSecond;
    private readonly int _capacity;
    private readonly TimeProvider _timeProvider;
    private readonly TokenBucket? _classBucket;
    private readonly ConcurrentDictionary<string, TokenBucket>? _partitions;
    private readonly TokenBucket[]? _overflow;
    private readonly long _refillTicks;
    private int _sweeping;
    private long _sweepNotBefore;

    public PartitionedTokenBucketLimiter(WorkloadRateLimitOptions options, int maxTrackedPartitions, TimeProvider timeProvider)
    {
        Options = new WorkloadRateLimitOptions { PermitsPerSecond = options.PermitsPerSecond, Burst = options.Burst, PerPartition = options.PerPartition };
        MaxTrackedPartitions = maxTrackedPartitions;
        _permitsPerSecond = options.PermitsPerSecond;
        _capacity = options.Burst ?? Math.Max(1, (int)Math.Ceiling(options.PermitsPerSecond));
        _timeProvider = timeProvider;
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

    /// <summary>Gets the options the limiter was made from (a copy), to tell whether a reload changes it.</summary>
    public WorkloadRateLimitOptions Options { get; }

    public int MaxTrackedPartitions { get; }

    public int TrackedPartitions => _partitions?.Count ?? 0;

    /// <summary>Whether a new configuration describes this same limiter, so that its buckets carry over.</summary>
    public bool IsSameAs(WorkloadRateLimitOptions options, int maxTrackedPartitions) =>
        MaxTrackedPartitions == maxTrackedPartitions
        && Options.PermitsPerSecond.Equals(options.PermitsPerSecond)
        && Options.Burst == options.Burst
        && Options.PerPartition == options.PerPartition;

    public bool TryAcquire(string? partition, out TimeSpan retryAfter) =>
        BucketFor(partition ?? string.Empty).TryTake(1, out retryAfter);

    public override RateLimiterStatistics? GetStatistics(string resource) => null;

    protected override RateLimitLease AttemptAcquireCore(string resource, int permitCount)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(permitCount);
        return BucketFor(resource ?? string.Empty).TryTake(permitCount, out TimeSpan retryAfter)
            ? BucketLease.Acquired
            : new BucketLease(retryAfter);
    }

    protected override ValueTask<RateLimitLease> AcquireAsyncCore(string resource, int permitCount, CancellationToken cancellationToken) =>
        cancellationToken.IsCancellationRequested
            ? ValueTask.FromCanceled<RateLimitLease>(cancellationToken)
            : new ValueTask<RateLimitLease>(AttemptAcquireCore(resource, permitCount));

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

        if (_partitions.Count >= MaxTrackedPartitions)
        {
            ForgetFullBuckets();
            if (_partitions.Count >= MaxTrackedPartitions)
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

    /// <summary>A granted permit holds nothing (one shared instance); a refusal carries its retry-after.</summary>
    private sealed class BucketLease(TimeSpan? retryAfter) : RateLimitLease
    {
        public static readonly BucketLease Acquired = new(null);

        public override bool IsAcquired => retryAfter is null;

        public override IEnumerable<string> MetadataNames => retryAfter is null ? [] : [MetadataName.RetryAfter.Name];

        public override bool TryGetMetadata(string metadataName, out object? metadata)
        {
            if (retryAfter is { } delay && metadataName == MetadataName.RetryAfter.Name)
            {
                metadata = delay;
                return true;
            }

            metadata = null;
            return false;
        }

        [SuppressMessage("Usage", "CA2215", Justification = "Nothing to free.")]
        protected override void Dispose(bool disposing)
        {
        }
    }
}
