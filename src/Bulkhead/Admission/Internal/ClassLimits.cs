using System.Threading.RateLimiting;
using Bulkhead.Pressure.Internal;
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
        int? effectiveMax = null,
        bool adaptive = false,
        WorkloadIsolationMode hostMode = WorkloadIsolationMode.Enforce,
        PressureHold? pressure = null)
    {
        Generation = generation & ClassState.GenerationMask;
        GenerationBits = (long)Generation << ClassState.GenerationShift;
        Priority = options.Priority;
        Reserved = options.ReservedConcurrency;
        ConfiguredMax = options.MaxConcurrency ?? totalConcurrency;

        // The adaptive controller's limit, kept between the reservation (and one seat) and the configured limit whatever it asked.
        Max = effectiveMax is { } effective ? Math.Clamp(effective, Math.Min(Math.Max(Reserved, 1), ConfiguredMax), ConfiguredMax) : ConfiguredMax;

        // Held by pressure (only a class with a Shed rule): shed, no seat to give, its reserved ones included, and only
        // its background work may wait (the engine refuses the rest); or, admitted again, a limit growing back.
        if (options.Shed is not null && pressure is { } hold)
        {
            ShedBy = hold.Sheds ? hold.Signal : null;
            Max = Math.Min(Max, hold.Max);
        }
        Objective = adaptive ? options.Objective : null;
        TimesSeats = Objective?.SeatTimeP99 is not null;
        TimesQueueWaits = Objective?.QueueWaitP99 is not null;
        QueueLimit = options.QueueLimit;
        QueueTimeout = options.QueueTimeout;
        Lifo = options.QueueOrder == WorkloadQueueOrder.Lifo;
        QueueDelay = options.QueueDelay;
        PartitionLimit = options.MaxConcurrencyPerPartition ?? 0;
        ExecutionTimeout = options.Execution?.Timeout;
        Pool = pool;
        RateLimiter = rateLimiter;
        TokenBuckets = rateLimiter as PartitionedTokenBucketLimiter;
        Mode = options.Mode ?? hostMode;

        // The most seats one unit of work can ever hold: no more than the class's limit, its partition's, or its
        // reservation and the whole shared pool.
        int everAvailable = Math.Min(Reserved + pool, PartitionLimit > 0 ? PartitionLimit : int.MaxValue);
        ConfiguredWidest = Math.Min(ConfiguredMax, everAvailable);
        LearnedWeight = options.LearnedWeight;
        Widest = Math.Max(1, Math.Min(Max, everAvailable));
    }

    /// <summary>The limits of a removed class while it drains: no seat to give, its waiters gone to the default class.</summary>
    private ClassLimits(int generation, ClassLimits live, int pool)
    {
        Generation = generation & ClassState.GenerationMask;
        GenerationBits = (long)Generation << ClassState.GenerationShift;
        Priority = live.Priority;
        QueueLimit = live.QueueLimit;
        QueueTimeout = live.QueueTimeout;
        Pool = pool;
        Mode = WorkloadIsolationMode.Enforce;
        Widest = 1;
        Removed = true;
    }

    /// <summary>
    /// The limits of a class removed from the configuration, from the limits it had: it keeps its rank among the
    /// classes and takes no seat (no reservation, a maximum of 0), until its work in flight has freed its seats.
    /// </summary>
    public static ClassLimits Drained(int generation, ClassLimits live, int pool) => new(generation, live, pool);

    /// <summary>
    /// Gets the widest unit of work the configuration admits (in seats); a wider one is rejected at once with
    /// <see cref="WorkloadRejectionReason.WeightTooLarge"/>.
    /// </summary>
    public int ConfiguredWidest { get; }

    /// <summary>
    /// Gets the most seats a unit of work takes now: its weight, clamped to what the class can give under the limits in
    /// force (the adaptive controller's limit, a reload's), so that no waiter waits for seats that cannot free.
    /// </summary>
    public int Widest { get; }

    /// <summary>Gets the class's learned-weight settings, or <see langword="null"/> when it does not learn weights.</summary>
    public WorkloadLearnedWeightOptions? LearnedWeight { get; }

    /// <summary>Gets the seats a unit of work of <paramref name="weight"/> takes under these limits.</summary>
    public int SeatsFor(int weight) => Math.Min(weight, Widest);

    /// <summary>Gets whether the class's decisions are carried out, or only computed and reported.</summary>
    public WorkloadIsolationMode Mode { get; }

    public bool Observes => Mode == WorkloadIsolationMode.Observe;

    /// <summary>Gets the generation, as stamped into the seat word (a few low bits of a counter).</summary>
    public int Generation { get; }

    /// <summary>Gets <see cref="Generation"/> in place in the seat word, for a one-instruction comparison.</summary>
    public long GenerationBits { get; }

    public int Priority { get; }

    public int Reserved { get; }

    /// <summary>Gets the most units of work in flight at once now: the configured limit, or the adaptive controller's below it.</summary>
    public int Max { get; }

    /// <summary>Gets the limit the configuration sets.</summary>
    public int ConfiguredMax { get; }

    /// <summary>Gets the objective the class keeps while adaptive protection runs, or <see langword="null"/>.</summary>
    public WorkloadObjectiveOptions? Objective { get; }

    /// <summary>Gets a value indicating whether each lease's seat-holding time is measured for the objective.</summary>
    public bool TimesSeats { get; }

    /// <summary>Gets a value indicating whether queue waits are measured for the objective.</summary>
    public bool TimesQueueWaits { get; }

    public int QueueLimit { get; }

    public TimeSpan QueueTimeout { get; }

    public bool Lifo { get; }

    /// <summary>Gets the class's queue delay control, or <see langword="null"/>: every waiter may wait <see cref="QueueTimeout"/>.</summary>
    public WorkloadQueueDelayOptions? QueueDelay { get; }

    /// <summary>Gets the most work in flight per partition, or 0 for no limit.</summary>
    public int PartitionLimit { get; }

    public bool LimitsPartitions => PartitionLimit > 0;

    public TimeSpan? ExecutionTimeout { get; }

    /// <summary>Gets the host's shared pool: <c>TotalConcurrency − Σ reserved</c> over the classes in force.</summary>
    public int Pool { get; }

    /// <summary>Gets the class's admission check, or <see langword="null"/>.</summary>
    public PartitionedRateLimiter<string>? RateLimiter { get; }

    /// <summary>Gets the built-in limiter when <see cref="RateLimiter"/> is one, for its allocation-free path.</summary>
    public PartitionedTokenBucketLimiter? TokenBuckets { get; }

    /// <summary>
    /// Gets the signal the class is shed by while the process is under pressure (its <c>Shed</c> rule), or
    /// <see langword="null"/>: a shed class gives no seat (<see cref="Max"/> is 0), refuses new work that would wait in
    /// its queue with <see cref="WorkloadRejectionReason.Shed"/>, and keeps only its background work waiting.
    /// </summary>
    public WorkloadPressureSignal? ShedBy { get; }

    /// <summary>
    /// Gets a value indicating whether the class was removed from the configuration: it drains (its work in flight
    /// finishes and frees its seats; it has no reservation and admits nothing), its waiters moved to the default class,
    /// and new work asked of it runs in the default class.
    /// </summary>
    public bool Removed { get; }
}
