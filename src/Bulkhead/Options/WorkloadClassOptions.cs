using System.ComponentModel.DataAnnotations;

namespace Bulkhead;

/// <summary>
/// The limits of one workload class: its priority, its reserved and maximum seats and its queue.
/// </summary>
public sealed class WorkloadClassOptions
{
    /// <summary>
    /// Gets or sets the priority of the class on shared seats: 0 is the most important. When a shared seat frees,
    /// it goes to the waiting class with the lowest number that may take it; classes of equal priority take turns.
    /// </summary>
    /// <value>The default value is 0.</value>
    [Range(0, int.MaxValue)]
    public int Priority { get; set; }

    /// <summary>
    /// Gets or sets the number of seats only this class may use. Reserved seats are never lent to another class,
    /// so this class always finds them free of other classes' work.
    /// </summary>
    /// <value>The default value is 0.</value>
    [Range(0, WorkloadIsolationOptions.MaxSeats)]
    public int ReservedConcurrency { get; set; }

    /// <summary>
    /// Gets or sets the most units of work of this class in flight at once, reserved and borrowed seats together.
    /// <see langword="null"/> means the host's <see cref="WorkloadIsolationOptions.TotalConcurrency"/>.
    /// </summary>
    /// <value>The default value is <see langword="null"/>.</value>
    [Range(1, WorkloadIsolationOptions.MaxSeats)]
    public int? MaxConcurrency { get; set; }

    /// <summary>
    /// Gets or sets how many units of work may wait for a seat. 0 rejects at once when no seat is free.
    /// </summary>
    /// <value>The default value is 100.</value>
    [Range(0, int.MaxValue)]
    public int QueueLimit { get; set; } = 100;

    /// <summary>
    /// Gets or sets how long a unit of work may wait for a seat before it is rejected with
    /// <see cref="WorkloadRejectionReason.QueueTimeout"/>. <see cref="Timeout.InfiniteTimeSpan"/> waits without limit.
    /// </summary>
    /// <value>The default value is 30 seconds.</value>
    public TimeSpan QueueTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Gets or sets the order in which waiters of this class are admitted.
    /// </summary>
    /// <value>The default value is <see cref="WorkloadQueueOrder.Fifo"/>.</value>
    public WorkloadQueueOrder QueueOrder { get; set; } = WorkloadQueueOrder.Fifo;

    /// <summary>
    /// Gets or sets queue delay control (controlled delay, as in CoDel): while the class's queue has not been empty for
    /// its <c>Interval</c>, work that starts waiting waits at most its <c>Target</c> instead of <see cref="QueueTimeout"/>,
    /// newest first. <see langword="null"/> for none: every waiter may wait its <see cref="QueueTimeout"/>.
    /// </summary>
    /// <value>The default value is <see langword="null"/>.</value>
    public WorkloadQueueDelayOptions? QueueDelay { get; set; }

    /// <summary>
    /// Gets or sets the most units of work of one partition (tenant, user, key) in flight at once in this class;
    /// <see langword="null"/> for no per-partition limit. Partitions past <see cref="WorkloadIsolationOptions.MaxTrackedPartitions"/>
    /// share hashed partitions, and with them this limit.
    /// </summary>
    /// <value>The default value is <see langword="null"/>.</value>
    [Range(1, WorkloadIsolationOptions.MaxSeats)]
    public int? MaxConcurrencyPerPartition { get; set; }

    /// <summary>
    /// Gets or sets the class's rate limit, checked before a seat is sought; <see langword="null"/> for none.
    /// </summary>
    /// <value>The default value is <see langword="null"/>.</value>
    public WorkloadRateLimitOptions? RateLimit { get; set; }

    /// <summary>
    /// Gets or sets how the class's work runs: where (the ThreadPool, or dedicated threads at a lower CPU priority) and
    /// for how long at most (<see cref="WorkloadExecutionOptions.Timeout"/>); <see langword="null"/> runs it on the
    /// ThreadPool with no timeout.
    /// </summary>
    /// <value>The default value is <see langword="null"/>.</value>
    public WorkloadExecutionOptions? Execution { get; set; }

    /// <summary>
    /// Gets or sets the class's job queue (<see cref="IWorkloadJobQueue"/>); <see langword="null"/> for the defaults.
    /// </summary>
    /// <value>The default value is <see langword="null"/>: 1,000 items, waiting when full.</value>
    public WorkloadJobQueueOptions? Jobs { get; set; }

    /// <summary>
    /// Gets or sets what this class must keep when <see cref="WorkloadIsolationOptions.Adaptive"/> is enabled: the
    /// classes less important than it are sized to keep it.
    /// </summary>
    /// <value>The default value is <see langword="null"/>: the class states no objective.</value>
    public WorkloadObjectiveOptions? Objective { get; set; }

    /// <summary>
    /// Gets or sets learned weight: the weight of work that gives a cost key (an endpoint, a job type) and no weight of its
    /// own is learned from how long such work holds its seats.
    /// </summary>
    /// <value>The default value is <see langword="null"/>: weights are only what callers give.</value>
    public WorkloadLearnedWeightOptions? LearnedWeight { get; set; }

    /// <summary>
    /// Gets or sets concurrency caps that hold across every replica of the service; <see langword="null"/> for none.
    /// They need a fleet store, such as the Bulkhead.Redis package, registered.
    /// </summary>
    /// <value>The default value is <see langword="null"/>.</value>
    public WorkloadFleetOptions? Fleet { get; set; }

    /// <summary>
    /// Gets or sets when the class is shed: while the process's CPU utilization or memory load is at or above a
    /// threshold, its new and waiting work is rejected (<see cref="WorkloadRejectionReason.Shed"/>) and its background
    /// work waits. <see langword="null"/> for never. Give less important classes lower thresholds.
    /// </summary>
    /// <value>The default value is <see langword="null"/>.</value>
    public WorkloadShedOptions? Shed { get; set; }

    /// <summary>
    /// Gets or sets whether this class's decisions are carried out or only computed and reported;
    /// <see langword="null"/> for the host's <see cref="WorkloadIsolationOptions.Mode"/>.
    /// </summary>
    /// <value>The default value is <see langword="null"/>.</value>
    public WorkloadIsolationMode? Mode { get; set; }

    /// <summary>
    /// Gets or sets what kind of work the class holds: <see cref="WorkloadKind.CpuBound"/> gives it, unless it sets them
    /// itself, the execution settings measured best for CPU-heavy work on this machine (see <see cref="WorkloadKind"/>).
    /// </summary>
    /// <value>The default value is <see cref="WorkloadKind.General"/>.</value>
    public WorkloadKind Kind { get; set; }

    /// <summary>Gets a value indicating whether any limit of the class holds across the fleet.</summary>
    internal bool HasFleetLimits => Fleet is { MaxConcurrency: not null } or { MaxConcurrencyPerPartition: not null } or { RateLimit: not null };
}
