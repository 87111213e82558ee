using System.Threading.RateLimiting;
using Bulkhead.RateLimiting.Internal;

namespace Bulkhead.Admission.Internal;

/// <summary>
/// The limits of one class as they are in force now: immutable, published whole, replaced on reconfiguration. The
/// class's state (seats, queue, counters) lives in <see cref="ClassState"/> and carries over.
/// </summary>
/// <remarks>
/// <see cref="Generation"/> is also stamped into the class's seat word, so that the lock-free fast path can tell that
/// the limits it read belong to the seat count it is about to change.
/// </remarks>
internal sealed class ClassLimits
{
    public ClassLimits(
        int generation,
        WorkloadClassOptions options,
        int totalConcurrency,
        int pool,
        PartitionedRateLimiter<string>? rateLimiter,
        bool removed)
    {
        Generation = generation & ClassState.GenerationMask;
        GenerationBits = (long)Generation << ClassState.GenerationShift;
        Priority = options.Priority;
        Reserved = removed ? 0 : options.ReservedConcurrency;
        Max = removed ? 0 : options.MaxConcurrency ?? totalConcurrency;
        QueueLimit = options.QueueLimit;
        QueueTimeout = options.QueueTimeout;
        Lifo = options.QueueOrder == WorkloadQueueOrder.Lifo;
        PartitionLimit = options.MaxConcurrencyPerPartition ?? 0;
        ExecutionTimeout = options.ExecutionTimeout;
        HasExecutionTimeout = options.ExecutionTimeout is not null;
        Pool = pool;
        RateLimiter = rateLimiter;
        TokenBuckets = rateLimiter as PartitionedTokenBucketLimiter;
        Removed = removed;
    }

    /// <summary>Gets the generation, as stamped into the seat word (a few low bits of a counter).</summary>
    public int Generation { get; }

    /// <summary>Gets <see cref="Generation"/> in place in the seat word, for a one-instruction comparison.</summary>
    public long GenerationBits { get; }

    public int Priority { get; }

    public int Reserved { get; }

    public int Max { get; }

    public int QueueLimit { get; }

    public TimeSpan QueueTimeout { get; }

    public bool Lifo { get; }

    /// <summary>Gets the most work in flight per partition, or 0 for no limit.</summary>
    public int PartitionLimit { get; }

    public bool LimitsPartitions => PartitionLimit > 0;

    public TimeSpan? ExecutionTimeout { get; }

    public bool HasExecutionTimeout { get; }

    /// <summary>Gets the host's shared pool: <c>TotalConcurrency − Σ reserved</c> over the classes in force.</summary>
    public int Pool { get; }

    /// <summary>Gets the class's admission check, or <see langword="null"/>.</summary>
    public PartitionedRateLimiter<string>? RateLimiter { get; }

    /// <summary>Gets the built-in limiter when <see cref="RateLimiter"/> is one, for its allocation-free path.</summary>
    public PartitionedTokenBucketLimiter? TokenBuckets { get; }

    /// <summary>
    /// Gets a value indicating whether the class was removed from the configuration: it drains (its work in flight
    /// finishes and frees its seats; it has no reservation and admits nothing), its waiters moved to the default class,
    /// and new work asked of it runs in the default class.
    /// </summary>
    public bool Removed { get; }
}
