namespace Bulkhead;

/// <summary>
/// The state of one workload class at one moment.
/// </summary>
public sealed class WorkloadClassSnapshot
{
    /// <summary>Gets the class name.</summary>
    public required string Name { get; init; }

    /// <summary>Gets a value indicating whether work that names no class, or an unknown one, runs in this class.</summary>
    public bool IsDefault { get; init; }

    /// <summary>Gets the class's priority on shared seats (0 is the most important).</summary>
    public required int Priority { get; init; }

    /// <summary>Gets the number of units of work holding a seat of this class.</summary>
    public required int InFlight { get; init; }

    /// <summary>Gets the number of units of work waiting for a seat of this class.</summary>
    public required int Queued { get; init; }

    /// <summary>Gets the number of seats only this class may use.</summary>
    public required int ReservedConcurrency { get; init; }

    /// <summary>
    /// Gets the most units of work of this class in flight at once now: the configured limit, or below it while adaptive
    /// protection holds the class back (<see cref="WorkloadIsolationOptions.Adaptive"/>).
    /// </summary>
    public required int MaxConcurrency { get; init; }

    /// <summary>Gets the class's queue-wait objective while adaptive protection runs, or <see langword="null"/>.</summary>
    public TimeSpan? QueueWaitObjective { get; init; }

    /// <summary>Gets the class's seat-time objective while adaptive protection runs, or <see langword="null"/>.</summary>
    public TimeSpan? SeatTimeObjective { get; init; }

    /// <summary>
    /// Gets the 99th percentile of queue wait the adaptive controller measured in the last window that had enough work
    /// to measure, for a class with a queue-wait objective; <see langword="null"/> otherwise.
    /// </summary>
    public TimeSpan? MeasuredQueueWaitP99 { get; init; }

    /// <summary>
    /// Gets the 99th percentile of seat-holding time the adaptive controller measured in the last window that had enough
    /// work to measure, for a class with a seat-time objective; <see langword="null"/> otherwise.
    /// </summary>
    public TimeSpan? MeasuredSeatTimeP99 { get; init; }

    /// <summary>
    /// Gets whether the class's decisions are carried out, or only computed and counted (<see cref="WorkloadIsolationMode.Observe"/>:
    /// then <see cref="Rejected"/> and the queue are what Enforce would have rejected and kept waiting, and all of it was admitted).
    /// </summary>
    public WorkloadIsolationMode Mode { get; init; }

    /// <summary>
    /// Gets when the class rejected work in the last hour: periods without a pause of a second or more, newest first,
    /// stamped by the engine as the rejections happened (whenever the snapshot is taken, it tells the same story).
    /// </summary>
    public IReadOnlyList<WorkloadRejectionPeriod> RecentRejections { get; init; } = [];

    /// <summary>Gets what the class learned of its kinds of work, by cost key (<see cref="WorkloadClassOptions.LearnedWeight"/>); empty when it does not learn weights.</summary>
    public IReadOnlyList<WorkloadLearnedWeight> LearnedWeights { get; init; } = [];

    /// <summary>
    /// Gets where the class's fleet-wide limits are decided now (<see cref="WorkloadFleetState.LocalShare"/> or
    /// <see cref="WorkloadFleetState.Closed"/> while the fleet store is unreachable), or <see langword="null"/> for a
    /// class with no fleet-wide limit.
    /// </summary>
    public WorkloadFleetState? FleetState { get; init; }

    /// <summary>Gets the limit the configuration sets; <see cref="MaxConcurrency"/> is lower while adaptive protection holds the class back.</summary>
    public int ConfiguredMaxConcurrency { get; init; }

    /// <summary>Gets how many units of work may wait for a seat of this class.</summary>
    public required int QueueLimit { get; init; }

    /// <summary>Gets how many units of work this class has admitted since start.</summary>
    public required long Admitted { get; init; }

    /// <summary>Gets how many units of work this class has rejected since start.</summary>
    public required long Rejected { get; init; }

    /// <summary>Gets how many waiters of this class were canceled by their callers while queued since start.</summary>
    public required long Canceled { get; init; }

    /// <summary>Gets the class's execution timeout in force, or <see langword="null"/> for none.</summary>
    public TimeSpan? ExecutionTimeout { get; init; }

    /// <summary>Gets how many units of work of this class held their seat past its execution timeout since start.</summary>
    public long ExecutionTimeouts { get; init; }

    /// <summary>
    /// Gets how many units of work are holding their seat past the execution timeout now: their token fired and they
    /// have not ended (a hung downstream, or code that ignores its token).
    /// </summary>
    public int Overrunning { get; init; }

    /// <summary>
    /// Gets a value indicating whether the class was removed from the configuration and is draining: its work in
    /// flight finishes and frees its seats; it admits nothing.
    /// </summary>
    public bool IsDraining { get; init; }

    /// <summary>
    /// Gets the signal the class is shed by now (<see cref="WorkloadClassOptions.Shed"/>): it admits nothing (its
    /// <see cref="MaxConcurrency"/> is 0) and rejects its work with <see cref="WorkloadRejectionReason.Shed"/>, but its
    /// background work, which waits. <see langword="null"/> while it is not shed.
    /// </summary>
    public WorkloadPressureSignal? ShedBy { get; init; }

    /// <summary>
    /// Gets the class's dedicated threads now (0 on the ThreadPool), threads added to recover from starvation included.
    /// </summary>
    public int DedicatedThreads { get; init; }

    /// <summary>Gets the rejections by reason since start; they add up to <see cref="Rejected"/>.</summary>
    public IReadOnlyDictionary<WorkloadRejectionReason, long> RejectedByReason { get; init; } = new Dictionary<WorkloadRejectionReason, long>();

    /// <summary>Gets how long the longest waiting unit of work has waited, or <see langword="null"/> when none waits.</summary>
    public TimeSpan? OldestWaiterAge { get; init; }

    /// <summary>
    /// Gets how many times every dedicated thread of the class was found blocked while work waited for one (for
    /// example work waiting synchronously, with <c>.Result</c> or <c>.Wait()</c>, for work queued behind it).
    /// </summary>
    public long ThreadStarvations { get; init; }

    /// <summary>Gets the class's job items (<see cref="IWorkloadJobQueue"/>): waiting, running, and how they ended.</summary>
    public WorkloadJobCounts Jobs { get; init; } = WorkloadJobCounts.None;
}
