using System.Runtime.CompilerServices;
using Bulkhead.Adaptive.Internal;
using Bulkhead.Execution.Internal;
using Bulkhead.Queuing.Internal;
using Bulkhead.Telemetry.Internal;
using Bulkhead.Weights.Internal;

namespace Bulkhead.Admission.Internal;

/// <summary>
/// The run-time state of one workload class: its seats in use, its queue and its counters. Its limits are a separate
/// immutable object (<see cref="Limits"/>), replaced whole when the configuration changes; the state carries over.
/// </summary>
internal sealed partial class ClassState : WorkloadClass
{
    /// <summary>Bits 0–19 of <see cref="SeatWord"/> count seats in use; seats never exceed <see cref="WorkloadIsolationOptions.MaxSeats"/>.</summary>
    public const int SeatBits = 20;

    public const long SeatMask = (1L << SeatBits) - 1;

    /// <summary>Bits 20–39 hold the reservation in force, so that a seat's count and the rule that frees it move together.</summary>
    public const int ReservedShift = 20;

    /// <summary>Bits 40–47 hold the generation of <see cref="Limits"/> the word was last reconfigured under.</summary>
    public const int GenerationShift = 40;

    public const int GenerationMask = 0xFF;

    /// <summary>The generation's bits in place in the seat word.</summary>
    public const long GenerationBits = (long)GenerationMask << GenerationShift;

    /// <summary>Bits 48–63 count admissions; the engine's lock carries them into <see cref="AdmittedHigh"/> when they wrap.</summary>
    public const int AdmittedShift = 48;

    public const int AdmittedLowMax = 0xFFFF;

    public const long AdmittedUnit = 1L << AdmittedShift;

    public const long TakeIncrement = 1 + AdmittedUnit;

    /// <summary>A seat word at or above this has the admission count at its largest: the next admission wraps it.</summary>
    public const ulong AdmittedWrapsNext = (ulong)AdmittedLowMax << AdmittedShift;

    /// <summary>Seats in use, the reservation, the limits' generation and admissions, changed only atomically.</summary>
    public long SeatWord;

    /// <summary>Admissions carried out of <see cref="SeatWord"/>, in whole wraps; changed and read under the engine's lock.</summary>
    public long AdmittedHigh;

    /// <summary>0 while the fast path may take this class's reserved seats: the queue length, or -1 once closed.</summary>
    public int Gate;

    public long Rejected;

    /// <summary>Rejections by <see cref="WorkloadRejectionReason"/> (index); they add up to <see cref="Rejected"/>.</summary>
    public readonly long[] RejectedByReason = new long[Enum.GetValues<WorkloadRejectionReason>().Length];

    public long Canceled;

    public long ExecutionTimeouts;

    /// <summary>Units of work whose execution timeout fired and that have not ended yet.</summary>
    public int Overrunning;

    /// <summary>Counts leases while seat durations are measured, to time one in <see cref="WorkloadIsolationMetrics.SeatDurationSampling"/> (racy on purpose: it only spreads samples).</summary>
    public int SeatDurationSample;

    private ClassLimits _limits;

    // Where work holding a seat runs (inline, dedicated threads, under a timeout); chosen whenever the limits change.
    private volatile ExecutionPlacement _placement = ExecutionPlacement.Inline;

    // What learns from leases' seat-holding times (null: none is timed), and the learned weight among them.
    private volatile SeatTimeObserver[]? _seatObservers;
    private volatile WeightLearner? _learner;
    // Observe mode, around the enforcing decision; null in Enforce.
    private volatile ObserveMode? _observe;

    public ClassState(AdmissionEngine engine, string name, ClassLimits limits, int maxTrackedPartitions, DedicatedThreadScheduler? threads, DedicatedThreadScheduler? backlogThreads = null)
    {
        Engine = engine;
        Name = name;
        Threads = threads;
        BacklogThreads = backlogThreads;
        _limits = limits;
        Limits = limits;
        SeatWord = Pack(0, limits.Reserved, limits.Generation, 0);
        Queue = new PartitionedWaitQueue(maxTrackedPartitions, limits.PartitionLimit, limits.Widest);
        Rejections = new RejectionLog(this);
        RejectionHistory = new RejectionHistory(engine.TimeProvider);
        Due = new DueOrder(engine.TimeProvider, AdmissionEngine.OnDue, this);
    }

    /// <summary>Gets the log that summarizes this class's rejections.</summary>
    public RejectionLog Rejections { get; }

    /// <summary>Gets when the class rejected work (the health check's record).</summary>
    public RejectionHistory RejectionHistory { get; }

    public AdmissionEngine Engine { get; }

    public override string Name { get; }

    /// <summary>Gets the limits in force; replaced whole by reconfiguration.</summary>
    public ClassLimits Limits
    {
        get => Volatile.Read(ref _limits);
        set
        {
            // Set under the engine's lock: the histograms and what is learned are made once, the first time a feature
            // needs them, and kept across reloads.
            if (value.TimesQueueWaits || Engine.KeepsHistory)
            {
                QueueWaits ??= new LatencyHistogram();
            }

            SeatTimeObserver[]? observers = SeatTimeObservers.For(this, value);
            _learner = observers?.OfType<WeightLearner>().FirstOrDefault();
            _seatObservers = observers;
            Volatile.Write(ref _limits, value);
            _placement = ExecutionPlacement.For(this, value);
            _observe = value.Observes ? _observe ?? new ObserveMode(this) : null;
        }
    }

    /// <summary>Gets what learns from this class's leases' seat times, or <see langword="null"/> when nothing does (no lease is timed).</summary>
    public SeatTimeObserver[]? SeatObservers => _seatObservers;

    /// <summary>Gets or sets the seat-holding times measured for the class's objective or the history, or <see langword="null"/> before either needs them.</summary>
    public LatencyHistogram? SeatTimes { get; set; }

    /// <summary>Gets or sets what the class learned of its kinds of work, or <see langword="null"/> before it learns weights; kept across reloads.</summary>
    public LearnedWeights? LearnedWeights { get; set; }

    /// <summary>Gets the queue waits of admitted work measured for the class's objective or the history, or <see langword="null"/> before either needs them.</summary>
    public LatencyHistogram? QueueWaits { get; private set; }

    /// <summary>The last 99th percentile of queue wait the adaptive controller measured (ticks; -1 for none).</summary>
    public long LastQueueWaitP99 = -1;

    /// <summary>
    /// When the class's queue last went from empty to holding work (a TimeProvider timestamp), under the engine's lock:
    /// with queue delay control, a queue that has held work since more than its interval ago is standing.
    /// </summary>
    public long QueueNonEmptySince;

    /// <summary>The last 99th percentile of seat-holding time the adaptive controller measured (ticks; -1 for none).</summary>
    public long LastSeatTimeP99 = -1;

    /// <summary>Gets the class's dedicated threads, or <see langword="null"/> when its work runs on the ThreadPool.</summary>
    public DedicatedThreadScheduler? Threads { get; }

    /// <summary>Gets the threads that run backlogged partitions' work (Execution.BackloggedPartitionCpuPriority), or <see langword="null"/>.</summary>
    public DedicatedThreadScheduler? BacklogThreads { get; }

    /// <inheritdoc />
    public override TaskScheduler? TaskScheduler => _observe is null ? Threads : null;

    /// <summary>Gets the waiters by partition; guarded by the engine's lock.</summary>
    public PartitionedWaitQueue Queue { get; }

    /// <summary>Gets the waiters with a QueueTimeout in the order they fall due, and the timer that ends their waits; guarded by the engine's lock.</summary>
    public DueOrder Due { get; }

    public int InFlight => SeatsOf(Volatile.Read(ref SeatWord));

    /// <summary>Gets the admissions since start; exact under the engine's lock.</summary>
    public long Admitted => (AdmittedHigh << 16) + AdmittedLowOf(Volatile.Read(ref SeatWord));

    public static int SeatsOf(long word) => (int)(word & SeatMask);

    public static int ReservedOf(long word) => (int)((word >> ReservedShift) & SeatMask);

    public static int AdmittedLowOf(long word) => (int)((ulong)word >> AdmittedShift);

    public static long Pack(int seats, int reserved, int generation, int admittedLow) =>
        (long)seats | ((long)reserved << ReservedShift) | ((long)(generation & GenerationMask) << GenerationShift) | ((long)admittedLow << AdmittedShift);

    /// <inheritdoc />
    public override int MaxWeight => Limits.ConfiguredWidest;

    public override WorkloadRateLimitState? GetRateLimitState(string? partition = null) => Limits.TokenBuckets?.GetState(partition);

    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public override WorkloadLease TryAcquire(WorkloadRequest request) =>
        request.IsCommon && _observe is null ? Engine.TryAcquire(this, request.Partition) : TryAcquireAsked(request);

    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public override ValueTask<WorkloadLease> AcquireAsync(WorkloadRequest request, CancellationToken cancellationToken = default) =>
        request.IsCommon && _observe is null
            ? Engine.AcquireAsync(this, request.Partition, request.Background ? WaitMode.Background : WaitMode.Queue, weight: 1, cancellationToken)
            : AcquireAsked(request, cancellationToken);

    /// <summary>A try that is not the common one: some weight, a cost key, a deadline, or Observe mode.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private WorkloadLease TryAcquireAsked(WorkloadRequest request)
    {
        request.ThrowIfIncoherent();
        int weight = WeightOf(request, out WeightLearner? learner);
        WorkloadLease lease = request.Deadline is { } deadline && Engine.DeadlineAt(deadline) is null
            ? AdmissionEngine.PastDeadline(this)
            : Engine.TryAcquire(this, request.Partition, weight);
        if (_observe is { } observe)
        {
            lease = observe.Admit(lease, request.Partition);
        }

        return learner is null ? lease : Teach(lease, learner, request.CostKey!);
    }

    /// <summary>An acquisition that is not the common one: some weight, a cost key, a deadline, or Observe mode.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private ValueTask<WorkloadLease> AcquireAsked(WorkloadRequest request, CancellationToken cancellationToken)
    {
        request.ThrowIfIncoherent();
        int weight = WeightOf(request, out WeightLearner? learner);
        WaitMode mode = request.Background ? WaitMode.Background : WaitMode.Queue;
        long deadlineAt = long.MaxValue;
        if (request.Deadline is { } deadline)
        {
            if (Engine.DeadlineAt(deadline) is not { } at)
            {
                WorkloadLease late = AdmissionEngine.PastDeadline(this);
                return new ValueTask<WorkloadLease>(_observe is { } observe ? observe.Admit(late, request.Partition) : late);
            }

            deadlineAt = at;
        }

        ValueTask<WorkloadLease> acquiring = _observe is { } observing
            ? observing.AcquireAsync(request.Partition, mode, weight, deadlineAt)
            : Engine.AcquireAsync(this, request.Partition, mode, weight, cancellationToken, deadlineAt);
        return learner is null ? acquiring : Teach(acquiring, learner, request.CostKey!);
    }

    /// <summary>
    /// The seats a request takes: its weight, or, for work named by a cost key in a class that learns weights, the
    /// weight learned for it (<paramref name="learner"/>: its seat time teaches the class).
    /// </summary>
    private int WeightOf(WorkloadRequest request, out WeightLearner? learner)
    {
        learner = request.CostKey is null ? null : _learner;
        return learner is null ? request.Weight : learner.WeightOf(request.CostKey!, Limits.ConfiguredWidest);
    }

    private static WorkloadLease Teach(WorkloadLease lease, WeightLearner learner, string costKey)
    {
        lease.TimeFor(learner, costKey);
        return lease;
    }

    private static ValueTask<WorkloadLease> Teach(ValueTask<WorkloadLease> acquiring, WeightLearner learner, string costKey) =>
        acquiring.IsCompletedSuccessfully ? new ValueTask<WorkloadLease>(Teach(acquiring.Result, learner, costKey)) : TeachAsync(acquiring, learner, costKey);

    private static async ValueTask<WorkloadLease> TeachAsync(ValueTask<WorkloadLease> acquiring, WeightLearner learner, string costKey) =>
        Teach(await acquiring.ConfigureAwait(false), learner, costKey);

    /// <summary>Counts a rejection, in all and by its reason.</summary>
    public void CountRejection(WorkloadRejectionReason reason)
    {
        Interlocked.Increment(ref RejectedByReason[(int)reason]);
        Interlocked.Increment(ref Rejected);
        RejectionHistory.Record();
        Rejections.OnRejection();
    }

    public override string ToString() => Name;
}
