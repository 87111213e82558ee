namespace Bulkhead;

/// <summary>
/// What one unit of work asks of its workload class: whose work it is, how many seats it takes, what kind of work it
/// is, and how it waits when no seat is free. <c>default</c> asks for one seat, for no partition, waiting in the queue.
/// </summary>
/// <remarks>
/// Passed to <see cref="WorkloadClass.TryAcquire(WorkloadRequest)"/> and
/// <see cref="WorkloadClass.AcquireAsync(WorkloadRequest, CancellationToken)"/>, the one shape every front end (the
/// middleware, the Polly strategy, the job queue, your own) asks in.
/// </remarks>
public readonly record struct WorkloadRequest
{
    private readonly int _weight;

    /// <summary>Initializes a new instance of the <see cref="WorkloadRequest"/> struct for a partition.</summary>
    /// <param name="partition">The tenant, user or key the work belongs to within its class, if any.</param>
    public WorkloadRequest(string? partition) => Partition = partition;

    /// <summary>Gets the tenant, user or key the work belongs to within its class, if any.</summary>
    public string? Partition { get; init; }

    /// <summary>
    /// Gets the seats the work takes at once, 1 (the default) or more, for work that costs that many units of the
    /// class's usual work. Every seat rule counts them: the class's maximum and reservation, the shared pool, the
    /// per-partition limit, and turns among partitions. Work wider than its class can ever seat is rejected at once
    /// with <see cref="WorkloadRejectionReason.WeightTooLarge"/>.
    /// </summary>
    /// <remarks>
    /// A wide waiter at the head of its class's queue holds the queue: later waiters of its class do not pass it, and
    /// while the shared pool has too few seats free for it, the other classes of its priority take only their reserved
    /// seats, so it is never starved by a stream of narrower work. Lower priorities keep their reserved seats.
    /// </remarks>
    /// <exception cref="ArgumentOutOfRangeException">The value set is less than 1.</exception>
    public int Weight
    {
        get => _weight == 0 ? 1 : _weight;
        init
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(value, 1);
            _weight = value;
        }
    }

    /// <summary>
    /// Gets the kind of work (an endpoint, a job type), the same for all its units, for a class that learns what work
    /// costs (<see cref="WorkloadClassOptions.LearnedWeight"/>): such work takes as many seats as the class learned it
    /// costs, and its seat-holding time teaches the class. A class that does not learn takes <see cref="Weight"/> seats.
    /// A request names a cost key or a weight above 1, not both.
    /// </summary>
    public string? CostKey { get; init; }

    /// <summary>
    /// Gets a value indicating whether the work is background work (a job item, a hosted service) that waits as long as
    /// it takes: in the class's queue like any work (by priority, fair among partitions), but outside its
    /// <c>QueueLimit</c> and <c>QueueTimeout</c>, which bound how long a client is kept waiting. Such waiters count
    /// toward the queue that requests of the class see, are never turned away to make room for them, and never time out;
    /// they are rejected only with <see cref="WorkloadRejectionReason.RateLimited"/> (retry after the lease's
    /// <see cref="WorkloadLease.RetryAfter"/>), <see cref="WorkloadRejectionReason.WeightTooLarge"/> or
    /// <see cref="WorkloadRejectionReason.ShuttingDown"/>. A try never waits, background or not.
    /// </summary>
    public bool Background { get; init; }

    /// <summary>
    /// Gets when the caller stops waiting for the work (by the scheduler's <see cref="TimeProvider"/>), or
    /// <see langword="null"/> for no deadline: work asked for past it is refused before it takes a seat, and work still
    /// queued at it leaves the queue, both with <see cref="WorkloadRejectionReason.DeadlineExceeded"/>. Work that got
    /// its seat runs on; its own code decides what a late answer is worth.
    /// </summary>
    public DateTimeOffset? Deadline { get; init; }

    /// <summary>Gets a value indicating whether this is the common request: one seat, no cost key, no deadline.</summary>
    internal bool IsCommon => _weight <= 1 && CostKey is null && Deadline is null;

    /// <summary>Throws when the request names both a cost key and a weight above 1.</summary>
    /// <exception cref="ArgumentException">The request names both.</exception>
    internal void ThrowIfIncoherent()
    {
        if (_weight > 1 && CostKey is not null)
        {
            throw new ArgumentException($"A workload request names a cost key ('{CostKey}') or a weight ({_weight}), not both: the class learns the weight of work it knows by its cost key.", "request");
        }
    }
}
