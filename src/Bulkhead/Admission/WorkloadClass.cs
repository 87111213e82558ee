namespace Bulkhead;

#pragma warning disable RS0026, RS0027 // Optional parameters mirror IWorkloadScheduler's contract; the overloads with a weight came later.

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

    /// <summary>Takes a seat of the class if one is free now, without waiting.</summary>
    /// <param name="partition">The tenant, user or key the work belongs to within its class, if any.</param>
    /// <returns>An acquired lease that must be disposed to free the seat, or a rejected lease.</returns>
    public abstract WorkloadLease TryAcquire(string? partition = null);

    /// <summary>Takes a seat of the class, waiting in its queue when none is free.</summary>
    /// <param name="partition">The tenant, user or key the work belongs to within its class, if any.</param>
    /// <param name="cancellationToken">Cancels the wait; the place in the queue is freed at once.</param>
    /// <returns>An acquired lease that must be disposed to free the seat, or a rejected lease.</returns>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was canceled before a seat was taken.</exception>
    public abstract ValueTask<WorkloadLease> AcquireAsync(string? partition = null, CancellationToken cancellationToken = default);

    /// <summary>
    /// Takes a seat of the class for background work (a job item, a hosted service), waiting as long as it takes: in the
    /// class's queue like any work (by priority, fair among partitions), but outside its <c>QueueLimit</c> and
    /// <c>QueueTimeout</c>, which bound how long a client is kept waiting. Such waiters count toward the queue that
    /// requests of the class see, are never turned away to make room for them, and never time out.
    /// </summary>
    /// <param name="partition">The tenant, user or key the work belongs to within its class, if any.</param>
    /// <param name="cancellationToken">Cancels the wait; the place in the queue is freed at once.</param>
    /// <returns>
    /// An acquired lease that must be disposed to free the seat, or a lease rejected only with
    /// <see cref="WorkloadRejectionReason.RateLimited"/> (retry after its <see cref="WorkloadLease.RetryAfter"/>) or
    /// <see cref="WorkloadRejectionReason.ShuttingDown"/>.
    /// </returns>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was canceled before a seat was taken.</exception>
    /// <remarks>The base implementation calls <see cref="AcquireAsync(string?, CancellationToken)"/>, for decorators written before this method.</remarks>
    public virtual ValueTask<WorkloadLease> WaitForSeatAsync(string? partition = null, CancellationToken cancellationToken = default) =>
        AcquireAsync(partition, cancellationToken);

    /// <summary>
    /// Takes <paramref name="weight"/> seats of the class at once for work that costs that many units of the
    /// class's usual work, if they are free now, without waiting.
    /// </summary>
    /// <param name="partition">The tenant, user or key the work belongs to within its class, if any.</param>
    /// <param name="weight">The seats the work takes, 1 or more. Every seat rule counts them: the class's maximum and
    /// reservation, the shared pool, the per-partition limit, and turns among partitions.</param>
    /// <returns>An acquired lease that must be disposed to free the seats, or a rejected lease
    /// (<see cref="WorkloadRejectionReason.WeightTooLarge"/> when the class can never give that many).</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="weight"/> is less than 1.</exception>
    /// <exception cref="NotSupportedException">A weight above 1 asked of a decorator's handle that does not override this method.</exception>
    public virtual WorkloadLease TryAcquire(string? partition, int weight) =>
        CheckWeight(weight) == 1 ? TryAcquire(partition) : throw WeightNotSupported();

    /// <summary>
    /// Takes <paramref name="weight"/> seats of the class at once, waiting in its queue until all of them are free.
    /// </summary>
    /// <param name="partition">The tenant, user or key the work belongs to within its class, if any.</param>
    /// <param name="weight">The seats the work takes, 1 or more; see <see cref="TryAcquire(string?, int)"/>.</param>
    /// <param name="cancellationToken">Cancels the wait; the place in the queue is freed at once.</param>
    /// <returns>An acquired lease that must be disposed to free the seats, or a rejected lease.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="weight"/> is less than 1.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was canceled before the seats were taken.</exception>
    /// <exception cref="NotSupportedException">A weight above 1 asked of a decorator's handle that does not override this method.</exception>
    /// <remarks>
    /// A wide waiter at the head of its class's queue holds the queue: later waiters of its class do not pass it, and
    /// while the shared pool has too few seats free for it, the other classes of its priority take only their reserved
    /// seats, so it is never starved by a stream of narrower work. Lower priorities keep their reserved seats.
    /// </remarks>
    public virtual ValueTask<WorkloadLease> AcquireAsync(string? partition, int weight, CancellationToken cancellationToken = default) =>
        CheckWeight(weight) == 1 ? AcquireAsync(partition, cancellationToken) : throw WeightNotSupported();

    /// <summary>
    /// Takes <paramref name="weight"/> seats of the class at once for background work, waiting as long as it takes;
    /// see <see cref="WaitForSeatAsync(string?, CancellationToken)"/> and <see cref="AcquireAsync(string?, int, CancellationToken)"/>.
    /// </summary>
    /// <param name="partition">The tenant, user or key the work belongs to within its class, if any.</param>
    /// <param name="weight">The seats the work takes, 1 or more.</param>
    /// <param name="cancellationToken">Cancels the wait; the place in the queue is freed at once.</param>
    /// <returns>An acquired lease that must be disposed to free the seats, or a rejected lease.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="weight"/> is less than 1.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was canceled before the seats were taken.</exception>
    /// <exception cref="NotSupportedException">A weight above 1 asked of a decorator's handle that does not override this method.</exception>
    public virtual ValueTask<WorkloadLease> WaitForSeatAsync(string? partition, int weight, CancellationToken cancellationToken = default) =>
        CheckWeight(weight) == 1 ? WaitForSeatAsync(partition, cancellationToken) : throw WeightNotSupported();

    /// <summary>
    /// Takes seats for a kind of work (<paramref name="costKey"/>: an endpoint, a job type) if they are free now: as many
    /// as the class has learned such work costs (<see cref="WorkloadClassOptions.LearnedWeight"/>), and the lease's
    /// seat-holding time teaches it. A class that does not learn weights takes one seat.
    /// </summary>
    /// <param name="partition">The tenant, user or key the work belongs to within its class, if any.</param>
    /// <param name="costKey">The kind of work, the same for all its units (a route, a job's method).</param>
    /// <returns>An acquired lease that must be disposed to free the seats, or a rejected lease.</returns>
    /// <remarks>The base implementation takes one seat and learns nothing, for decorators written before this method.</remarks>
    public virtual WorkloadLease TryAcquire(string? partition, string costKey) => TryAcquire(partition);

    /// <summary>
    /// Takes seats for a kind of work (<paramref name="costKey"/>), waiting in the class's queue: as many as the class has
    /// learned such work costs; see <see cref="TryAcquire(string?, string)"/>.
    /// </summary>
    /// <param name="partition">The tenant, user or key the work belongs to within its class, if any.</param>
    /// <param name="costKey">The kind of work, the same for all its units (a route, a job's method).</param>
    /// <param name="cancellationToken">Cancels the wait; the place in the queue is freed at once.</param>
    /// <returns>An acquired lease that must be disposed to free the seats, or a rejected lease.</returns>
    /// <remarks>The base implementation takes one seat and learns nothing, for decorators written before this method.</remarks>
    public virtual ValueTask<WorkloadLease> AcquireAsync(string? partition, string costKey, CancellationToken cancellationToken = default) =>
        AcquireAsync(partition, cancellationToken);

    /// <summary>
    /// Takes seats for a kind of background work (<paramref name="costKey"/>: a job type), waiting as long as it takes:
    /// as many as the class has learned such work costs; see <see cref="WaitForSeatAsync(string?, CancellationToken)"/>.
    /// </summary>
    /// <param name="partition">The tenant, user or key the work belongs to within its class, if any.</param>
    /// <param name="costKey">The kind of work, the same for all its units.</param>
    /// <param name="cancellationToken">Cancels the wait; the place in the queue is freed at once.</param>
    /// <returns>An acquired lease that must be disposed to free the seats, or a rejected lease.</returns>
    /// <remarks>The base implementation takes one seat and learns nothing, for decorators written before this method.</remarks>
    public virtual ValueTask<WorkloadLease> WaitForSeatAsync(string? partition, string costKey, CancellationToken cancellationToken = default) =>
        WaitForSeatAsync(partition, cancellationToken);

    /// <summary>
    /// Runs work holding the seat of an acquired lease, where the class runs its work (its dedicated threads, or the
    /// calling thread for a class on the ThreadPool), under the class's execution timeout; disposes the lease when the
    /// work ends, however it ends.
    /// </summary>
    /// <param name="lease">An acquired lease of this class; this method owns it from now on.</param>
    /// <param name="work">The work. Its token is <paramref name="cancellationToken"/>, linked, when the class has an
    /// <c>ExecutionTimeout</c>, to a timeout that fires when the work has held its seat that long.</param>
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

    /// <summary>Checks a weight: 1 or more.</summary>
    /// <param name="weight">The weight asked for.</param>
    /// <returns><paramref name="weight"/>.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="weight"/> is less than 1.</exception>
    protected static int CheckWeight(int weight)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(weight, 1);
        return weight;
    }

    private NotSupportedException WeightNotSupported() =>
        new($"The handle of workload class '{Name}' ({GetType().Name}) takes one seat per unit of work; override the overloads with a weight to take several.");
}
#pragma warning restore RS0026, RS0027
