namespace Bulkhead;

#pragma warning disable RS0026, RS0027 // TryAcquire/AcquireAsync by partition alone mirror IWorkloadScheduler's contract beside the request overloads.

/// <summary>
/// A workload class resolved once by <see cref="IWorkloadScheduler.GetClass"/>: the handle every front end (the
/// ASP.NET Core middleware, the Polly strategy, hosted services, job queues, your own) uses to take seats and to run
/// work holding them, without looking the name up again.
/// </summary>
/// <remarks>
/// <para>
/// A handle stays valid across configuration reloads: limits change under it, seat counts carry over. When its class is
/// removed from the configuration, work asked of the handle runs in the default class, as work naming an unknown class
/// does.
/// </para>
/// <para>
/// The class is abstract so that a decorator of <see cref="IWorkloadScheduler"/> can hand out its own handles: front
/// ends take every seat through the handle they are given.
/// </para>
/// </remarks>
public abstract class WorkloadClass
{
    /// <summary>Initializes a new instance of the <see cref="WorkloadClass"/> class.</summary>
    protected WorkloadClass()
    {
    }

    /// <summary>Gets the class's name, as configured.</summary>
    public abstract string Name { get; }

    /// <summary>
    /// Gets where the class runs its work: its dedicated threads, or <see langword="null"/> for the ThreadPool (and in
    /// Observe mode, where work runs as it would without Bulkhead).
    /// </summary>
    public abstract TaskScheduler? TaskScheduler { get; }

    /// <summary>
    /// Gets the widest unit of work the class's configuration can ever seat, in seats: wider work is rejected at once
    /// with <see cref="WorkloadRejectionReason.WeightTooLarge"/>, and a job queue refuses it where it is queued. A
    /// decorator's handle forwards it; the base says <see cref="int.MaxValue"/> (not known).
    /// </summary>
    public virtual int MaxWeight => int.MaxValue;

    /// <summary>Takes a seat of the class if one is free now, without waiting.</summary>
    /// <param name="partition">The tenant, user or key the work belongs to within its class, if any.</param>
    /// <returns>An acquired lease that must be disposed to free the seat, or a rejected lease.</returns>
    public WorkloadLease TryAcquire(string? partition = null) => TryAcquire(new WorkloadRequest(partition));

    /// <summary>Takes a seat of the class, waiting in its queue when none is free.</summary>
    /// <param name="partition">The tenant, user or key the work belongs to within its class, if any.</param>
    /// <param name="cancellationToken">Cancels the wait; the place in the queue is freed at once.</param>
    /// <returns>An acquired lease that must be disposed to free the seat, or a rejected lease.</returns>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was canceled before a seat was taken.</exception>
    public ValueTask<WorkloadLease> AcquireAsync(string? partition = null, CancellationToken cancellationToken = default) =>
        AcquireAsync(new WorkloadRequest(partition), cancellationToken);

    /// <summary>Takes the seats a unit of work asks for if they are free now, without waiting.</summary>
    /// <param name="request">The work's partition, weight and cost key; see <see cref="WorkloadRequest"/>.</param>
    /// <returns>An acquired lease that must be disposed to free the seats, or a rejected lease.</returns>
    /// <exception cref="ArgumentException"><paramref name="request"/> names both a cost key and a weight above 1.</exception>
    public abstract WorkloadLease TryAcquire(WorkloadRequest request);

    /// <summary>
    /// Takes the seats a unit of work asks for, waiting in the class's queue until all of them are free: within the
    /// class's <c>QueueLimit</c> and <c>QueueTimeout</c>, or as long as it takes for
    /// <see cref="WorkloadRequest.Background"/> work.
    /// </summary>
    /// <param name="request">The work's partition, weight, cost key and how it waits; see <see cref="WorkloadRequest"/>.</param>
    /// <param name="cancellationToken">Cancels the wait; the place in the queue is freed at once.</param>
    /// <returns>An acquired lease that must be disposed to free the seats, or a rejected lease.</returns>
    /// <exception cref="ArgumentException"><paramref name="request"/> names both a cost key and a weight above 1.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was canceled before the seats were taken.</exception>
    public abstract ValueTask<WorkloadLease> AcquireAsync(WorkloadRequest request, CancellationToken cancellationToken = default);

    /// <summary>
    /// Runs work holding the seat of an acquired lease, where the class runs its work (its dedicated threads, or the
    /// calling thread for a class on the ThreadPool), under the class's execution timeout; disposes the lease when the
    /// work ends, however it ends.
    /// </summary>
    /// <param name="lease">An acquired lease of this class; this method owns it from now on.</param>
    /// <param name="work">The work. Its token is <paramref name="cancellationToken"/>, linked, when the class has an
    /// <c>Execution.Timeout</c>, to a timeout that fires when the work has held its seat that long.</param>
    /// <param name="state">The state passed to <paramref name="work"/>, so that callers need not allocate a closure.</param>
    /// <param name="cancellationToken">The caller's token, passed to the work.</param>
    /// <returns>A task that completes when the work has completed and its seat is free.</returns>
    /// <exception cref="ArgumentException"><paramref name="lease"/> holds no seat.</exception>
    /// <remarks>
    /// With no dedicated threads and no execution timeout this adds no allocation and, when the work completes
    /// synchronously, no await.
    /// </remarks>
    public abstract Task ExecuteAsync(WorkloadLease lease, Func<object?, CancellationToken, Task> work, object? state, CancellationToken cancellationToken = default);

    /// <summary>
    /// Runs work that returns a result holding the seat of an acquired lease; see
    /// <see cref="ExecuteAsync(WorkloadLease, Func{object?, CancellationToken, Task}, object?, CancellationToken)"/>.
    /// </summary>
    /// <typeparam name="TResult">The work's result.</typeparam>
    /// <param name="lease">An acquired lease of this class; this method owns it from now on.</param>
    /// <param name="work">The work.</param>
    /// <param name="state">The state passed to <paramref name="work"/>.</param>
    /// <param name="cancellationToken">The caller's token, passed to the work.</param>
    /// <returns>The work's result, once its seat is free.</returns>
    /// <exception cref="ArgumentException"><paramref name="lease"/> holds no seat.</exception>
    public abstract Task<TResult> ExecuteAsync<TResult>(WorkloadLease lease, Func<object?, CancellationToken, Task<TResult>> work, object? state, CancellationToken cancellationToken = default);

    /// <summary>
    /// Gets where the class's built-in rate limit (<see cref="WorkloadClassOptions.RateLimit"/>) stands for a partition,
    /// for clients to pace themselves; reading it takes no permit. A partition the class has not seen has a full bucket.
    /// </summary>
    /// <param name="partition">The partition key, for a per-partition limit; ignored otherwise.</param>
    /// <returns>The state, or <see langword="null"/> when the class has no built-in rate limit (none, or one added with
    /// <c>AddRateLimiter</c>, whose state only that limiter knows).</returns>
    public virtual WorkloadRateLimitState? GetRateLimitState(string? partition = null) => null;

    /// <inheritdoc />
    public override string ToString() => Name;
}
#pragma warning restore RS0026, RS0027
