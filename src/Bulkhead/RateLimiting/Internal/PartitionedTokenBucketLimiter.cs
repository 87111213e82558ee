using Bulkhead.Admission.Internal;
using System.Collections.Concurrent;
using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;
using System.Threading.RateLimiting;

namespace Bulkhead.RateLimiting.Internal;

/// <summary>
/// The built-in admission check of a class: a token bucket for the class, or one per partition, on a
/// <see cref="TimeProvider"/>. Partition buckets are bounded: at the cap, a new key gets a fresh bucket of its own in
/// place of the fullest of the next <see cref="EvictionSample"/> tracked buckets (clock order), so a new tenant is never
/// refused for a neighbour's spending, and the cost of a new key does not grow with the number tracked.
/// </summary>
/// <remarks>
/// It is a <see cref="PartitionedRateLimiter{TResource}"/> like any other a class may use, and the engine calls
/// <see cref="TryAcquire"/> directly so that checking it allocates nothing.
/// </remarks>
internal sealed class PartitionedTokenBucketLimiter : PartitionedRateLimiter<string>
{
    /// <summary>How many tracked buckets a new key past the cap looks at to choose the one it replaces.</summary>
    public const int EvictionSample = 8;

    private readonly double _permitsPerSecond;
    private readonly int _capacity;
    private readonly TimeProvider _timeProvider;
    private readonly TokenBucket? _classBucket;
    private readonly ConcurrentDictionary<string, TokenBucket>? _partitions;

    // Adding and replacing partition buckets, under the lock: the tracked keys in slots, and the clock hand over them.
    private readonly Lock _tracking = new();
    private readonly List<string> _slots = [];
    private int _hand;

    public PartitionedTokenBucketLimiter(WorkloadRateLimitOptions options, int maxTrackedPartitions, TimeProvider timeProvider)
    {
        Options = new WorkloadRateLimitOptions { PermitsPerSecond = options.PermitsPerSecond, Burst = options.Burst, PerPartition = options.PerPartition };
        MaxTrackedPartitions = maxTrackedPartitions;
        _permitsPerSecond = options.PermitsPerSecond;
        _capacity = options.Burst ?? Math.Max(1, (int)Math.Ceiling(options.PermitsPerSecond));
        _timeProvider = timeProvider;
        if (options.PerPartition)
        {
            _partitions = new ConcurrentDictionary<string, TokenBucket>(StringComparer.Ordinal);
        }
        else
        {
            _classBucket = NewBucket();
        }
    }

    /// <summary>Gets the options the limiter was made from (a copy), to tell whether a reload changes it.</summary>
    public WorkloadRateLimitOptions Options { get; }

    public int MaxTrackedPartitions { get; }

    public int TrackedPartitions
    {
        get
        {
            lock (_tracking)
            {
                return _slots.Count;
            }
        }
    }

    /// <summary>Whether a new configuration describes this same limiter, so that its buckets carry over.</summary>
    public bool IsSameAs(WorkloadRateLimitOptions options, int maxTrackedPartitions) =>
        MaxTrackedPartitions == maxTrackedPartitions
        && Options.PermitsPerSecond.Equals(options.PermitsPerSecond)
        && Options.Burst == options.Burst
        && Options.PerPartition == options.PerPartition;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool TryAcquire(string? partition, out TimeSpan retryAfter) =>
        BucketFor(partition).TryTake(1, out retryAfter);

    public override RateLimiterStatistics? GetStatistics(string resource) => null;

    /// <summary>Where a partition's bucket stands, without tracking a partition not seen (its bucket would be full).</summary>
    public WorkloadRateLimitState GetState(string? partition)
    {
        TokenBucket? bucket = _partitions is null ? _classBucket : _partitions.GetValueOrDefault(BoundedKey.For(partition));
        double available = bucket?.Available() ?? _capacity;
        int remaining = Math.Clamp((int)Math.Floor(available), 0, _capacity);
        return new WorkloadRateLimitState(
            _capacity,
            TimeSpan.FromSeconds(_capacity / _permitsPerSecond),
            remaining,
            TimeSpan.FromSeconds(Math.Max(0, _capacity - available) / _permitsPerSecond));
    }

    protected override RateLimitLease AttemptAcquireCore(string resource, int permitCount)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(permitCount);
        return BucketFor(resource).TryTake(permitCount, out TimeSpan retryAfter)
            ? BucketLease.Acquired
            : new BucketLease(retryAfter);
    }

    protected override ValueTask<RateLimitLease> AcquireAsyncCore(string resource, int permitCount, CancellationToken cancellationToken) =>
        cancellationToken.IsCancellationRequested
            ? ValueTask.FromCanceled<RateLimitLease>(cancellationToken)
            : new ValueTask<RateLimitLease>(AttemptAcquireCore(resource, permitCount));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private TokenBucket BucketFor(string? partition)
    {
        if (_partitions is null)
        {
            return _classBucket!;
        }

        // Buckets are kept by the key's bounded form: long keys cost no more memory than short ones.
        string key = BoundedKey.For(partition);
        return _partitions.TryGetValue(key, out TokenBucket? bucket) ? bucket : Track(key);
    }

    /// <summary>
    /// Gives a new key a fresh bucket: below the cap, one more; at the cap, in place of the fullest of the next
    /// <see cref="EvictionSample"/> tracked buckets, found by a clock hand. A full bucket is the same as a new one, so
    /// replacing it costs its key nothing; a key whose bucket was replaced before it refilled gets a fresh one when it
    /// returns, at most one burst more than its rate for each replacement.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private TokenBucket Track(string partition)
    {
        lock (_tracking)
        {
            if (_partitions!.TryGetValue(partition, out TokenBucket? bucket))
            {
                return bucket;
            }

            bucket = NewBucket();
            if (_slots.Count < MaxTrackedPartitions)
            {
                _slots.Add(partition);
            }
            else
            {
                int slot = ChooseReplaced();
                _partitions.TryRemove(_slots[slot], out _);
                _slots[slot] = partition;
            }

            _partitions[partition] = bucket;
            return bucket;
        }
    }

    private int ChooseReplaced()
    {
        int count = _slots.Count;
        int best = _hand;
        double bestTokens = double.MinValue;
        for (int i = 0; i < Math.Min(EvictionSample, count); i++)
        {
            int slot = (_hand + i) % count;
            double tokens = _partitions![_slots[slot]].Available();
            if (tokens > bestTokens)
            {
                (best, bestTokens) = (slot, tokens);
            }
        }

        _hand = (best + 1) % count;
        return best;
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
