using Bulkhead.Execution.Internal;
using Bulkhead.Queuing.Internal;
using Bulkhead.RateLimiting.Internal;

namespace Bulkhead.Admission.Internal;

/// <summary>
/// The run-time state of one workload class: its seats in use, its queue and its counters, with the limits the engine
/// reads on the fast path copied into fields.
/// </summary>
internal sealed class ClassState
{
    /// <summary>The low bits of <see cref="SeatWord"/> count seats in use; seats never exceed <see cref="WorkloadIsolationOptions.MaxSeats"/>.</summary>
    public const int SeatBits = 21;

    public const long SeatMask = (1L << SeatBits) - 1;

    /// <summary>The high bits of <see cref="SeatWord"/> count admissions, so one atomic add takes a seat and counts it.</summary>
    public const long AdmittedUnit = 1L << SeatBits;

    public const long TakeIncrement = 1 + AdmittedUnit;

    /// <summary>Seats in use (low bits) and admissions since start (high bits), changed only atomically.</summary>
    public long SeatWord;

    /// <summary>0 while the fast path may take this class's reserved seats: the queue length, or -1 once closed.</summary>
    public int Gate;

    public long Rejected;

    public long Canceled;

    public ClassState(AdmissionEngine engine, string name, WorkloadClassOptions options, WorkloadIsolationOptions hostOptions, TimeProvider timeProvider)
    {
        int totalConcurrency = hostOptions.TotalConcurrency;
        RateLimiter = options.RateLimit is { } rateLimit ? new ClassRateLimiter(rateLimit, hostOptions.MaxTrackedPartitions, timeProvider) : null;
        Engine = engine;
        Name = name;
        Priority = options.Priority;
        Reserved = options.ReservedConcurrency;
        Max = options.MaxConcurrency ?? totalConcurrency;
        QueueLimit = options.QueueLimit;
        QueueTimeout = options.QueueTimeout;
        QueueOrder = options.QueueOrder;
        Scheduler = options.Execution is { DedicatedThreads: > 0 } execution
            ? new DedicatedThreadScheduler(name, execution.DedicatedThreads, execution.CpuPriority)
            : null;
        Queue = new PartitionedWaitQueue(hostOptions.MaxTrackedPartitions, options.MaxConcurrencyPerPartition ?? 0);
        LimitsPartitions = options.MaxConcurrencyPerPartition is > 0;
    }

    public AdmissionEngine Engine { get; }

    public string Name { get; }

    public int Priority { get; }

    public int Reserved { get; }

    public int Max { get; }

    public int QueueLimit { get; }

    public TimeSpan QueueTimeout { get; }

    public WorkloadQueueOrder QueueOrder { get; }

    /// <summary>Gets the class's dedicated threads, or <see langword="null"/> when its work runs on the ThreadPool.</summary>
    public DedicatedThreadScheduler? Scheduler { get; }

    /// <summary>Gets the class's rate limit, checked before a seat is sought, or <see langword="null"/>.</summary>
    public ClassRateLimiter? RateLimiter { get; }

    /// <summary>Gets the waiters by partition; guarded by the engine's lock.</summary>
    public PartitionedWaitQueue Queue { get; }

    /// <summary>Gets a value indicating whether work in flight is counted per partition (always under the lock).</summary>
    public bool LimitsPartitions { get; }

    /// <summary>
    /// Starts work where the class runs its work: on its dedicated threads (where awaits without
    /// <c>ConfigureAwait(false)</c> come back), or right here for a class on the ThreadPool.
    /// </summary>
    public Task<T> Start<T>(Func<Task<T>> work) =>
        Scheduler is { } threads
            ? Task.Factory.StartNew(work, CancellationToken.None, TaskCreationOptions.DenyChildAttach, threads).Unwrap()
            : work();

    /// <inheritdoc cref="Start{T}(Func{Task{T}})"/>
    public Task Start(Func<Task> work) =>
        Scheduler is { } threads
            ? Task.Factory.StartNew(work, CancellationToken.None, TaskCreationOptions.DenyChildAttach, threads).Unwrap()
            : work();

    public int InFlight => (int)(Volatile.Read(ref SeatWord) & SeatMask);

    public long Admitted => Volatile.Read(ref SeatWord) >> SeatBits;

    public override string ToString() => Name;
}
