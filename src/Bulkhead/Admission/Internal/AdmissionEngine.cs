using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Threading.RateLimiting;
using Bulkhead.Pressure.Internal;
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

    // What pressure holds classes to, by class name: shed, or a limit growing back (the pressure monitor sends them).
    private Dictionary<string, PressureHold> _pressureHolds = new(StringComparer.OrdinalIgnoreCase);
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

    private volatile bool _keepsHistory;

    public AdmissionEngine(WorkloadIsolationOptions options, TimeProvider timeProvider, IReadOnlyDictionary<string, PartitionedRateLimiter<string>>? customLimiters = null, ILogger? logger = null, IWorkloadFleetLimiterFactory? fleet = null, WorkloadIsolationMetrics? metrics = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(timeProvider);

        TimeProvider = timeProvider;
        Metrics = metrics;
        Logger = logger ?? NullLogger.Instance;
        TimerFaults = new TimerFaults(Logger, timeProvider);
        _customLimiters = customLimiters ?? new Dictionary<string, PartitionedRateLimiter<string>>();
        _fleet = fleet;
        _options = options;
        _configuration = Build(options, [], []);
    }

    public TimeProvider TimeProvider { get; }

    /// <summary>Gets the instruments that record durations as they happen; <see langword="null"/> without a meter.</summary>
    public WorkloadIsolationMetrics? Metrics { get; }

    /// <summary>Gets where the engine's own parts (a class's dedicated threads) report.</summary>
    public ILogger Logger { get; }

    /// <summary>Gets where the timers of the engine and its parts report what their callbacks threw.</summary>
    public TimerFaults TimerFaults { get; }

    /// <summary>
    /// Gets a value indicating whether every class measures its queue waits and, on one lease in
    /// <see cref="WorkloadIsolationMetrics.SeatDurationSampling"/>, its seat-holding times, for a history to read.
    /// </summary>
    public bool KeepsHistory => _keepsHistory;

    /// <summary>Makes every class, and every class added later, measure what <see cref="KeepsHistory"/> says.</summary>
    public void KeepHistory()
    {
        lock (_lock)
        {
            _keepsHistory = true;
            foreach (ClassState c in _configuration.Classes)
            {
                // The limits set again: the class makes its histograms and starts timing seats.
                c.Limits = c.Limits;
            }
        }
    }

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

        if (limits.ShedBy is not null)
        {
            return Shed(c);
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

    /// <summary>
    /// An acquisition of <paramref name="weight"/> seats, waiting as <paramref name="mode"/> says when they are not free,
    /// until <paramref name="deadlineAt"/> at most (a TimeProvider timestamp; <see cref="long.MaxValue"/> for none).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ValueTask<WorkloadLease> AcquireAsync(ClassState workloadClass, string? partition, WaitMode mode, int weight, CancellationToken cancellationToken, long deadlineAt = long.MaxValue)
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

        if (limits.ShedBy is not null && mode != WaitMode.Background)
        {
            return new ValueTask<WorkloadLease>(Shed(c));
        }

        if (limits.RateLimiter is not null)
        {
            return AcquireChecked(c, limits, partition, mode, weight, deadlineAt, cancellationToken);
        }

        if (weight == 1 && TryTakeSeatFast(c, limits))
        {
            return new ValueTask<WorkloadLease>(LeaseTicket.Issue(c));
        }

        return AcquireSlow(c, partition, mode, limiterLease: null, cancellationToken, weight, deadlineAt);
    }

    /// <summary>
    /// When a caller's deadline falls as a timestamp of this engine's clock, or <see langword="null"/> when it has
    /// passed: work its caller no longer waits for is refused before it takes a seat.
    /// </summary>
    public long? DeadlineAt(DateTimeOffset deadline)
    {
        TimeSpan left = deadline - TimeProvider.GetUtcNow();
        return left > TimeSpan.Zero ? DueAt(TimeProvider.GetTimestamp(), left) : null;
    }

    /// <summary>Work whose caller's deadline has passed: refused before it takes a seat or waits for one.</summary>
    public static WorkloadLease PastDeadline(ClassState c)
    {
        c.CountRejection(WorkloadRejectionReason.DeadlineExceeded);
        return new WorkloadLease(c.Name, WorkloadRejectionReason.DeadlineExceeded, retryAfter: null);
    }

    /// <summary>A unit of work wider than its class can ever seat: rejected at once, since no wait can help.</summary>
    private static WorkloadLease TooWide(ClassState c)
    {
        c.CountRejection(WorkloadRejectionReason.WeightTooLarge);
        return new WorkloadLease(c.Name, WorkloadRejectionReason.WeightTooLarge, retryAfter: null);
    }

    /// <summary>Work of a class shed under pressure: rejected at once, before it spends a rate permit; only background work waits.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static WorkloadLease Shed(ClassState c)
    {
        c.CountRejection(WorkloadRejectionReason.Shed);
        return new WorkloadLease(c.Name, WorkloadRejectionReason.Shed, retryAfter: null);
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
            c.Due.Dispose();
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
    private ValueTask<WorkloadLease> AcquireChecked(ClassState c, ClassLimits limits, string? partition, WaitMode mode, int weight, long deadlineAt, CancellationToken cancellationToken)
    {
        RateLimitLease? limiterLease = null;
        if (limits.TokenBuckets is null)
        {
            ValueTask<RateLimitLease> checking = limits.RateLimiter!.AcquireAsync(partition ?? string.Empty, 1, cancellationToken);
            if (!checking.IsCompletedSuccessfully)
            {
                return AcquireAfterLimiterAsync(c, partition, checking, mode, weight, deadlineAt, cancellationToken);
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

        return AcquireSlow(c, partition, mode, limiterLease, cancellationToken, weight, deadlineAt);
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

    private async ValueTask<WorkloadLease> AcquireAfterLimiterAsync(ClassState c, string? partition, ValueTask<RateLimitLease> checking, WaitMode mode, int weight, long deadlineAt, CancellationToken cancellationToken)
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

        return await AcquireSlow(c, partition, mode, limiterLease, cancellationToken, weight, deadlineAt).ConfigureAwait(false);
    }
}
