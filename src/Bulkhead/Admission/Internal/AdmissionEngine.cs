using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Threading.RateLimiting;
using Bulkhead.Queuing.Internal;
using Bulkhead.Telemetry.Internal;
using Bulkhead.Timing.Internal;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Bulkhead.Admission.Internal;

/// <summary>
/// Decides for every unit of work whether it runs now, waits or is rejected.
/// </summary>
/// <remarks>
/// <para>
/// Seats are counted without the lock: each class's seat word packs its seats in use (<c>n</c>), the reservation in
/// force (<c>r</c>), the generation of its limits and an admission count, so one atomic operation takes a seat and
/// counts it. The shared seats in use (<c>S = Σ max(0, n − r)</c>) move by atomic operations only, and a class may
/// start work iff <c>n &lt; max</c> and (<c>n &lt; r</c> or <c>S &lt; pool</c>). A shared seat is claimed from the pool
/// before the class's count moves, so the pool is never overdrawn by an admission.
/// </para>
/// <para>
/// Limits are an immutable <see cref="ClassLimits"/> per class, published whole. The fast path reads the seat word,
/// then the limits, and proceeds only when their generations agree; reconfiguration publishes the limits first and
/// then moves every class's word to the new generation (and reservation) under the lock, so an admission either
/// happens entirely under the old limits, before the change, or sees the new ones.
/// </para>
/// <para>
/// The lock guards the queues. Waiters publish themselves (<see cref="ClassState.Gate"/>, <c>_minWaitingPriority</c>)
/// before they check for a seat one last time, and releasers free their seat before they look for waiters; with full
/// fences on both sides, one of the two always sees the other, so no seat stays free while a waiter could take it.
/// The fast path steps aside whenever a waiter it must not overtake exists.
/// </para>
/// </remarks>
internal sealed partial class AdmissionEngine : IDisposable
{
    private const int NoWaiters = int.MaxValue;
    private const int Closed = int.MinValue;

    private readonly Lock _lock = new();
    private readonly IReadOnlyDictionary<string, PartitionedRateLimiter<string>> _customLimiters;
    private readonly IWorkloadFleetLimiterFactory? _fleet;
    private EngineConfiguration _configuration;
    private WorkloadIsolationOptions _options;
    private Dictionary<string, int> _effectiveMaxima = new(StringComparer.OrdinalIgnoreCase);
    private int _generation;

    private int _sharedInUse;

    /// <summary>
    /// A test seam: runs after the lock-free path claims a shared seat, before it takes it. In every build, so that the
    /// race tests run against the code that ships (one null check, on the shared-seat path only).
    /// </summary>
    internal Action? AfterSharedClaimForTest;

    private int _minWaitingPriority = NoWaiters;
    private int _totalQueued;
    private long _waiterSequence;
    private bool _closed;

    /// <summary>Work asked of a removed class's handle that ran in the default class instead.</summary>
    public long RemovedClassFallbacks;

    public AdmissionEngine(WorkloadIsolationOptions options, TimeProvider timeProvider, IReadOnlyDictionary<string, PartitionedRateLimiter<string>>? customLimiters = null, ILogger? logger = null, IWorkloadFleetLimiterFactory? fleet = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(timeProvider);

        TimeProvider = timeProvider;
        Logger = logger ?? NullLogger.Instance;
        TimerFaults = new TimerFaults(Logger, timeProvider);
        _customLimiters = customLimiters ?? new Dictionary<string, PartitionedRateLimiter<string>>();
        _fleet = fleet;
        _options = options;
        _configuration = Build(options, [], []);
    }

    public TimeProvider TimeProvider { get; }

    /// <summary>Gets or sets the instruments that record durations as they happen; <see langword="null"/> without a meter.</summary>
    public WorkloadIsolationMetrics? Metrics { get; set; }

    /// <summary>Gets where the engine's own parts (a class's dedicated threads) report.</summary>
    public ILogger Logger { get; }

    /// <summary>Gets where the timers of the engine and its parts report what their callbacks threw.</summary>
    public TimerFaults TimerFaults { get; }

    /// <summary>Gets the configuration in force.</summary>
    public EngineConfiguration Configuration => Volatile.Read(ref _configuration);

    /// <summary>Gets the classes, most important first, draining ones included.</summary>
    public IReadOnlyList<ClassState> Classes => Configuration.Classes;

    public ClassState DefaultClass => Configuration.DefaultClass;

    public int TotalConcurrency => Configuration.TotalConcurrency;

    /// <summary>Gets the shared seats in use; exact whenever no acquire, release or reconfiguration is under way.</summary>
    public int SharedInUse => Volatile.Read(ref _sharedInUse);

    public int SharedPool => Configuration.Pool;

    /// <summary>
    /// A try for a unit of work that takes <paramref name="weight"/> seats: the rate check, then a seat. One seat takes
    /// the lock-free path when no waiter could be overtaken; several seats, like every waiter, are decided under the lock.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public WorkloadLease TryAcquire(ClassState workloadClass, string? partition, int weight = 1)
    {
        ClassState c = Admit(workloadClass, out ClassLimits limits);
        if (weight != 1 && weight > limits.ConfiguredWidest)
        {
            return TooWide(c);
        }

        RateLimitLease? limiterLease = null;
        if (limits.RateLimiter is not null && IsRateLimited(c, limits, partition, out WorkloadLease rejected, out limiterLease))
        {
            return rejected;
        }

        if (weight == 1 && TryTakeSeatFast(c, limits))
        {
            return LeaseTicket.Issue(c, partition: null, limiterLease);
        }

        return TryAcquireSlow(c, partition, limiterLease, weight);
    }

    /// <summary>An acquisition of <paramref name="weight"/> seats, waiting as <paramref name="mode"/> says when they are not free.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ValueTask<WorkloadLease> AcquireAsync(ClassState workloadClass, string? partition, WaitMode mode, int weight, CancellationToken cancellationToken)
    {
        ClassState c = Admit(workloadClass, out ClassLimits limits);
        if (cancellationToken.IsCancellationRequested)
        {
            return CanceledBeforeAsking(c, cancellationToken);
        }

        if (weight != 1 && weight > limits.ConfiguredWidest)
        {
            return new ValueTask<WorkloadLease>(TooWide(c));
        }

        if (limits.RateLimiter is not null)
        {
            return AcquireChecked(c, limits, partition, mode, cancellationToken, weight);
        }

        if (weight == 1 && TryTakeSeatFast(c, limits))
        {
            return new ValueTask<WorkloadLease>(LeaseTicket.Issue(c));
        }

        return AcquireSlow(c, partition, mode, limiterLease: null, cancellationToken, weight);
    }

    /// <summary>A unit of work wider than its class can ever seat: rejected at once, since no wait can help.</summary>
    private static WorkloadLease TooWide(ClassState c)
    {
        c.CountRejection(WorkloadRejectionReason.WeightTooLarge);
        return new WorkloadLease(c.Name, WorkloadRejectionReason.WeightTooLarge, retryAfter: null);
    }

    /// <summary>Frees a seat taken for a lease; called once per lease by <see cref="LeaseTicket"/>.</summary>
    public void ReleaseSeat(ClassState workloadClass)
    {
        FreeSeat(workloadClass);
        if (Volatile.Read(ref _minWaitingPriority) != NoWaiters)
        {
            Pump();
        }
    }

    /// <summary>Frees the seats of a unit of work that took several; called once per lease by <see cref="LeaseTicket"/>.</summary>
    public void ReleaseSeats(ClassState workloadClass, int seats)
    {
        FreeSeats(workloadClass, seats);
        if (Volatile.Read(ref _minWaitingPriority) != NoWaiters)
        {
            Pump();
        }
    }

    /// <summary>Frees the seats of a class that counts seats per partition: the partition's count, then the seats, under the lock.</summary>
    public void ReleasePartitionSeat(ClassState workloadClass, PartitionState partition, int seats = 1)
    {
        Waiter? completions = null;
        lock (_lock)
        {
            partition.InFlight -= seats;
            Debug.Assert(partition.InFlight >= 0, "A partition frees no more seats than it took.");
            workloadClass.Queue.SeatFreed(partition);
            FreeSeats(workloadClass, seats);
            PumpUnsynchronized(ref completions);
        }

        Complete(completions);
    }

    public void Dispose()
    {
        Waiter? completions = null;
        EngineConfiguration configuration;
        lock (_lock)
        {
            if (_closed)
            {
                return;
            }

            _closed = true;
            configuration = _configuration;
            foreach (ClassState c in configuration.Classes)
            {
                while (c.Queue.Any is { } waiter)
                {
                    RemoveUnsynchronized(waiter, WaitOutcome.ShuttingDown, ref completions);
                }
            }

            PublishUnsynchronized();
        }

        Complete(completions);
        foreach (ClassState c in configuration.Classes)
        {
            c.Threads?.Dispose();
            c.BacklogThreads?.Dispose();
            c.Rejections.Dispose();
        }
    }

    public WorkloadClassSnapshot[] GetSnapshot(JobCounters? jobs = null)
    {
        lock (_lock)
        {
            ClassState defaultClass = _configuration.DefaultClass;
            return [.. _configuration.Classes
                .Where(c => !c.Limits.Removed || c.InFlight > 0 || c.Queue.Count > 0)
                .Select(c =>
                {
                    ClassLimits limits = c.Limits;
                    return new WorkloadClassSnapshot
                    {
                        Name = c.Name,
                        IsDefault = ReferenceEquals(c, defaultClass),
                        Priority = limits.Priority,
                        InFlight = c.InFlight,
                        Queued = c.Queue.Count,
                        ReservedConcurrency = limits.Reserved,
                        MaxConcurrency = limits.Max,
                        ConfiguredMaxConcurrency = limits.ConfiguredMax,
                        QueueWaitObjective = limits.Objective?.QueueWaitP99,
                        SeatTimeObjective = limits.Objective?.SeatTimeP99,
                        ObservedQueueWaitP99 = Volatile.Read(ref c.LastQueueWaitP99) is >= 0 and long queueWait ? TimeSpan.FromTicks(queueWait) : null,
                        ObservedSeatTimeP99 = Volatile.Read(ref c.LastSeatTimeP99) is >= 0 and long seatTime ? TimeSpan.FromTicks(seatTime) : null,
                        QueueLimit = limits.QueueLimit,
                        Admitted = c.Admitted,
                        Rejected = Volatile.Read(ref c.Rejected),
                        RecentRejections = c.RejectionHistory.Read(),
                        Canceled = Volatile.Read(ref c.Canceled),
                        ExecutionTimeout = limits.ExecutionTimeout,
                        ExecutionTimeouts = Volatile.Read(ref c.ExecutionTimeouts),
                        Overrunning = Volatile.Read(ref c.Overrunning),
                        IsDraining = limits.Removed,
                        RejectedByReason = Enum.GetValues<WorkloadRejectionReason>().ToDictionary(r => r, r => Volatile.Read(ref c.RejectedByReason[(int)r])),
                        OldestWaiterAge = c.Queue.OldestEnqueuedTimestamp() is { } oldest ? TimeProvider.GetElapsedTime(oldest) : null,
                        DedicatedThreads = c.Threads?.ThreadCount ?? 0,
                        ThreadStarvations = c.Threads?.Starvations ?? 0,
                        Jobs = jobs?.Read(c.Name) ?? WorkloadJobCounts.None,
                        FleetState = (limits.RateLimiter as IWorkloadFleetLimiter)?.State,
                        Mode = limits.Mode,
                        LearnedWeights = limits.LearnedWeight is { } learned && c.LearnedWeights is { } weights ? weights.Snapshot(learned) : [],
                    };
                })];
        }
    }

    /// <summary>The class that takes work asked of <paramref name="c"/>, with its limits: itself, or the default class once it was removed.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private ClassState Admit(ClassState c, out ClassLimits limits)
    {
        limits = c.Limits;
        if (limits.Removed)
        {
            c = FallBack(c);
            limits = c.Limits;
        }

        return c;
    }

    /// <summary>Work whose token was canceled before it asked: counted as canceled, as a waiter canceled in the queue is.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static ValueTask<WorkloadLease> CanceledBeforeAsking(ClassState c, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref c.Canceled);
        return ValueTask.FromCanceled<WorkloadLease>(cancellationToken);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private ClassState FallBack(ClassState removed)
    {
        Interlocked.Increment(ref RemovedClassFallbacks);
        EngineConfiguration configuration = Configuration;
        return configuration.ActiveByName.TryGetValue(removed.Name, out ClassState? addedBack) ? addedBack : configuration.DefaultClass;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private WorkloadLease TryAcquireSlow(ClassState c, string? partition, RateLimitLease? limiterLease, int weight = 1)
    {
        ValueTask<WorkloadLease> slow = AcquireSlow(c, partition, WaitMode.None, limiterLease, CancellationToken.None, weight);
        Debug.Assert(slow.IsCompleted, "A try never waits.");
        return slow.Result;
    }

    /// <summary>An acquisition of a class with an admission check, which any limiter, a remote one included, may answer asynchronously.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private ValueTask<WorkloadLease> AcquireChecked(ClassState c, ClassLimits limits, string? partition, WaitMode mode, CancellationToken cancellationToken, int weight = 1)
    {
        RateLimitLease? limiterLease = null;
        if (limits.TokenBuckets is null)
        {
            ValueTask<RateLimitLease> checking = limits.RateLimiter!.AcquireAsync(partition ?? string.Empty, 1, cancellationToken);
            if (!checking.IsCompletedSuccessfully)
            {
                return AcquireAfterLimiterAsync(c, partition, checking, mode, weight, cancellationToken);
            }

            limiterLease = checking.Result;
            if (!limiterLease.IsAcquired)
            {
                return new ValueTask<WorkloadLease>(Reject(c, limiterLease));
            }
        }
        else if (IsRateLimited(c, limits, partition, out WorkloadLease rejected, out _))
        {
            return new ValueTask<WorkloadLease>(rejected);
        }

        if (weight == 1 && TryTakeSeatFast(c, limits))
        {
            return new ValueTask<WorkloadLease>(LeaseTicket.Issue(c, partition: null, limiterLease));
        }

        return AcquireSlow(c, partition, mode, limiterLease, cancellationToken, weight);
    }

    /// <summary>
    /// Checks the class's built-in rate limit, or any limiter's synchronous answer, before a seat is sought: work over
    /// the rate never waits for or holds a seat.
    /// </summary>
    private static bool IsRateLimited(ClassState c, ClassLimits limits, string? partition, out WorkloadLease rejected, out RateLimitLease? limiterLease)
    {
        limiterLease = null;
        if (limits.TokenBuckets is { } buckets)
        {
            if (!buckets.TryAcquire(partition, out TimeSpan retryAfter))
            {
                rejected = RateLimited(c, retryAfter);
                return true;
            }
        }
        else
        {
            limiterLease = limits.RateLimiter!.AttemptAcquire(partition ?? string.Empty);
            if (!limiterLease.IsAcquired)
            {
                rejected = Reject(c, limiterLease);
                limiterLease = null;
                return true;
            }
        }

        rejected = default;
        return false;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static WorkloadLease RateLimited(ClassState c, TimeSpan retryAfter)
    {
        c.CountRejection(WorkloadRejectionReason.RateLimited);
        return new WorkloadLease(c.Name, WorkloadRejectionReason.RateLimited, retryAfter);
    }

    private static WorkloadLease Reject(ClassState c, RateLimitLease limiterLease)
    {
        c.CountRejection(WorkloadRejectionReason.RateLimited);
        TimeSpan? retryAfter = limiterLease.TryGetMetadata(MetadataName.RetryAfter, out TimeSpan delay) ? delay : null;
        limiterLease.Dispose();
        return new WorkloadLease(c.Name, WorkloadRejectionReason.RateLimited, retryAfter);
    }

    private async ValueTask<WorkloadLease> AcquireAfterLimiterAsync(ClassState c, string? partition, ValueTask<RateLimitLease> checking, WaitMode mode, int weight, CancellationToken cancellationToken)
    {
        RateLimitLease limiterLease = await checking.ConfigureAwait(false);
        if (!limiterLease.IsAcquired)
        {
            return Reject(c, limiterLease);
        }

        if (weight == 1 && TryTakeSeatFast(c, c.Limits))
        {
            return LeaseTicket.Issue(c, partition: null, limiterLease);
        }

        return await AcquireSlow(c, partition, mode, limiterLease, cancellationToken, weight).ConfigureAwait(false);
    }

    /// <summary>
    /// Takes a seat without the lock when no waiter could be overtaken by doing so.
    /// </summary>
    private bool TryTakeSeatFast(ClassState c, ClassLimits limits)
    {
        // Seats counted per partition change under the lock only.
        if (Volatile.Read(ref c.Gate) != 0 || limits.LimitsPartitions)
        {
            return false;
        }

        SeatKind kind = TryTakeSeat(c, limits, allowShared: limits.Priority < Volatile.Read(ref _minWaitingPriority), underLock: false);
        if (kind == SeatKind.None)
        {
            return false;
        }

        // A waiter that published itself while this seat was being taken found no seat, so it came first: give the
        // seat back and take the slow path, which queues behind it or hands the seat to it.
        if (Volatile.Read(ref c.Gate) == 0 && (kind == SeatKind.Reserved || limits.Priority < Volatile.Read(ref _minWaitingPriority)))
        {
            return true;
        }

        UndoTake(c);
        return false;
    }

    /// <summary>
    /// Takes a seat of a class if the seat rule allows: a reserved seat while the class is below its reservation,
    /// else, when <paramref name="allowShared"/>, a shared seat while the pool has one and the class is below its maximum.
    /// Without the lock it refuses when the limits are being replaced or when the admission count would wrap (the
    /// lock carries it), so that the caller takes the slow path.
    /// </summary>
    /// <remarks>
    /// The limits may be read before or after the word: either way the word's generation must match them, and the
    /// compare-and-swap succeeds only on the word that was checked, before any reconfiguration moved it.
    /// </remarks>
    private SeatKind TryTakeSeat(ClassState c, ClassLimits limits, bool allowShared, bool underLock)
    {
        long word = Volatile.Read(ref c.SeatWord);
        while (true)
        {
            if (!MayTake(word, limits, underLock))
            {
                return SeatKind.None;
            }

            int inFlight = ClassState.SeatsOf(word);
            if (inFlight < ClassState.ReservedOf(word))
            {
                long seen = Interlocked.CompareExchange(ref c.SeatWord, word + ClassState.TakeIncrement, word);
                if (seen == word)
                {
                    CarryAdmitted(c, word);
                    return SeatKind.Reserved;
                }

                word = seen;
                continue;
            }

            if (!allowShared || !TryClaimSharedSeat(limits.Pool))
            {
                return SeatKind.None;
            }

            if (!underLock)
            {
                AfterSharedClaimForTest?.Invoke();
            }

            // The shared seat is claimed; now move the class's count, or hand the claim back.
            while (true)
            {
                if (!MayTake(word, limits, underLock))
                {
                    HandBackSharedClaim(underLock);
                    return SeatKind.None;
                }

                long seen = Interlocked.CompareExchange(ref c.SeatWord, word + ClassState.TakeIncrement, word);
                if (seen == word)
                {
                    CarryAdmitted(c, word);
                    if (ClassState.SeatsOf(word) < ClassState.ReservedOf(word))
                    {
                        // A reserved seat freed meanwhile and this admission took it: the shared claim is not needed.
                        HandBackSharedClaim(underLock);
                        return SeatKind.Reserved;
                    }

                    return SeatKind.Shared;
                }

                word = seen;
            }
        }
    }

    /// <summary>
    /// Takes <paramref name="seats"/> seats of a class at once, under the lock, if the seat rule allows them all: the
    /// class stays within its maximum, and the seats above its reservation are claimed from the pool together (only
    /// when <paramref name="allowShared"/>). Lock-free takers and releasers of single seats may move the word meanwhile:
    /// the claim is handed back and the count read again.
    /// </summary>
    private SeatKind TryTakeSeats(ClassState c, ClassLimits limits, int seats, bool allowShared)
    {
        if (seats == 1)
        {
            return TryTakeSeat(c, limits, allowShared, underLock: true);
        }

        long word = Volatile.Read(ref c.SeatWord);
        while (true)
        {
            int inFlight = ClassState.SeatsOf(word);
            if (inFlight + seats > limits.Max || (word & ClassState.GenerationBits) != limits.GenerationBits)
            {
                return SeatKind.None;
            }

            int reserved = ClassState.ReservedOf(word);
            int shared = Math.Max(0, inFlight + seats - reserved) - Math.Max(0, inFlight - reserved);
            if (shared > 0 && (!allowShared || !TryClaimSharedSeats(limits.Pool, shared)))
            {
                return SeatKind.None;
            }

            long seen = Interlocked.CompareExchange(ref c.SeatWord, word + seats + ClassState.AdmittedUnit, word);
            if (seen == word)
            {
                CarryAdmitted(c, word);
                return shared > 0 ? SeatKind.Shared : SeatKind.Reserved;
            }

            if (shared > 0)
            {
                Interlocked.Add(ref _sharedInUse, -shared);
            }

            word = seen;
        }
    }

    /// <summary>Whether a class's head waiter fits under the class's maximum: then only the shared pool may hold it back.</summary>
    private static bool FitsUnderMax(ClassState c, Waiter head)
    {
        ClassLimits limits = c.Limits;
        return c.InFlight + limits.SeatsFor(head.Weight) <= limits.Max;
    }

    private bool TryClaimSharedSeats(int pool, int seats)
    {
        int inUse = Volatile.Read(ref _sharedInUse);
        while (inUse + seats <= pool)
        {
            int seen = Interlocked.CompareExchange(ref _sharedInUse, inUse + seats, inUse);
            if (seen == inUse)
            {
                return true;
            }

            inUse = seen;
        }

        return false;
    }

    /// <summary>
    /// Gives back a shared seat claimed but not used. A waiter may have found the pool full because of the claim, and
    /// nothing else may come to wake it: without the lock, look for waiters as a release does.
    /// </summary>
    private void HandBackSharedClaim(bool underLock)
    {
        Interlocked.Decrement(ref _sharedInUse);
        if (!underLock)
        {
            Pump();
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool MayTake(long word, ClassLimits limits, bool underLock) =>
        ClassState.SeatsOf(word) < limits.Max
        && (word & ClassState.GenerationBits) == limits.GenerationBits
        && (underLock || (ulong)word < ClassState.AdmittedWrapsNext);

    /// <summary>Carries the admission count out of the seat word when it wraps; only lock holders let it wrap.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void CarryAdmitted(ClassState c, long before)
    {
        if (ClassState.AdmittedLowOf(before) == ClassState.AdmittedLowMax)
        {
            c.AdmittedHigh++;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private bool TryClaimSharedSeat(int pool)
    {
        int inUse = Volatile.Read(ref _sharedInUse);
        while (inUse < pool)
        {
            int seen = Interlocked.CompareExchange(ref _sharedInUse, inUse + 1, inUse);
            if (seen == inUse)
            {
                return true;
            }

            inUse = seen;
        }

        return false;
    }

    /// <summary>Frees one seat: the class's count, and the shared seat when the class was above its reservation.</summary>
    private void FreeSeat(ClassState c)
    {
        long before = Interlocked.Add(ref c.SeatWord, -1) + 1;
        if (ClassState.SeatsOf(before) > ClassState.ReservedOf(before))
        {
            Interlocked.Decrement(ref _sharedInUse);
        }
    }

    /// <summary>Frees several seats of one unit of work: the class's count, and the shared seats among them.</summary>
    private void FreeSeats(ClassState c, int seats)
    {
        if (seats == 1)
        {
            FreeSeat(c);
            return;
        }

        long before = Interlocked.Add(ref c.SeatWord, -seats) + seats;
        int inFlight = ClassState.SeatsOf(before);
        int reserved = ClassState.ReservedOf(before);
        int shared = Math.Max(0, inFlight - reserved) - Math.Max(0, inFlight - seats - reserved);
        if (shared > 0)
        {
            Interlocked.Add(ref _sharedInUse, -shared);
        }
    }

    /// <summary>Gives back a seat the fast path took and may not keep, uncounting its admission.</summary>
    private void UndoTake(ClassState c)
    {
        long word = Volatile.Read(ref c.SeatWord);
        while (ClassState.AdmittedLowOf(word) != 0)
        {
            long seen = Interlocked.CompareExchange(ref c.SeatWord, word - ClassState.TakeIncrement, word);
            if (seen == word)
            {
                UnclaimShared(word);
                Pump();
                return;
            }

            word = seen;
        }

        // The count wrapped since the seat was taken (a lock holder carried it): borrow it back under the lock.
        Waiter? completions = null;
        lock (_lock)
        {
            word = Interlocked.Add(ref c.SeatWord, -ClassState.TakeIncrement) + ClassState.TakeIncrement;
            if (ClassState.AdmittedLowOf(word) == 0)
            {
                c.AdmittedHigh--;
            }

            UnclaimShared(word);
            PumpUnsynchronized(ref completions);
        }

        Complete(completions);
    }

    private void UnclaimShared(long before)
    {
        if (ClassState.SeatsOf(before) > ClassState.ReservedOf(before))
        {
            Interlocked.Decrement(ref _sharedInUse);
        }
    }

    private void Pump()
    {
        if (Volatile.Read(ref _minWaitingPriority) == NoWaiters)
        {
            return;
        }

        Waiter? completions = null;
        lock (_lock)
        {
            PumpUnsynchronized(ref completions);
        }

        Complete(completions);
    }
}
