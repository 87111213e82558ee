namespace Bulkhead;

#pragma warning disable RS0026, RS0027 // Overloads differ by the work's shape (with or without scoped services), as RunAsync's do; the one with a weight came later.

/// <summary>
/// Enqueue-and-forget work items, run in their workload class as its seats allow. Registered by
/// <c>AddWorkloadIsolation</c>; it is also the hosted service that runs the items and, at shutdown, reports every item
/// that did not run.
/// </summary>
#pragma warning disable CA1711 // It is a queue: the name users look for (the contract names it).
public interface IWorkloadJobQueue
#pragma warning restore CA1711
{
    /// <summary>
    /// Queues a work item in a class's job queue. When the queue is full, waits for room or throws, as the class's
    /// <see cref="WorkloadJobQueueOptions.FullMode"/> says.
    /// </summary>
    /// <param name="workloadClass">The class the item runs in.</param>
    /// <param name="work">The item; its token is canceled when the host's shutdown timeout runs out.</param>
    /// <param name="partition">The tenant, user or key the item belongs to, if any.</param>
    /// <param name="cancellationToken">Cancels waiting for room in the queue.</param>
    /// <returns>A task that completes when the item is queued (not when it has run).</returns>
    /// <exception cref="WorkloadRejectedException">The queue is full and rejects (<see cref="WorkloadRejectionReason.QueueFull"/>), or the host is stopping (<see cref="WorkloadRejectionReason.ShuttingDown"/>).</exception>
    ValueTask EnqueueAsync(string workloadClass, Func<CancellationToken, ValueTask> work, string? partition = null, CancellationToken cancellationToken = default);

    /// <summary>
    /// Queues a work item that uses scoped services (a DbContext, a unit of work): the item runs with the services of
    /// a scope of its own, created when it starts and disposed when it ends, as ASP.NET Core gives each request one.
    /// Never capture a request's scoped services in a job item: the request's scope is disposed when it ends, often
    /// before the item runs.
    /// </summary>
    /// <param name="workloadClass">The class the item runs in.</param>
    /// <param name="work">The item, given the scope's services; its token is canceled when the host's shutdown timeout runs out.</param>
    /// <param name="partition">The tenant, user or key the item belongs to, if any.</param>
    /// <param name="cancellationToken">Cancels waiting for room in the queue.</param>
    /// <returns>A task that completes when the item is queued (not when it has run).</returns>
    /// <exception cref="WorkloadRejectedException">The queue is full and rejects (<see cref="WorkloadRejectionReason.QueueFull"/>), or the host is stopping (<see cref="WorkloadRejectionReason.ShuttingDown"/>).</exception>
    ValueTask EnqueueAsync(string workloadClass, Func<IServiceProvider, CancellationToken, ValueTask> work, string? partition = null, CancellationToken cancellationToken = default);

    /// <summary>
    /// Queues a work item that takes <paramref name="weight"/> seats of its class at once when it runs: an export that
    /// costs what four of the class's usual items cost takes 4 (see <see cref="WorkloadRequest.Weight"/>).
    /// </summary>
    /// <param name="workloadClass">The class the item runs in.</param>
    /// <param name="work">The item; its token is canceled when the host's shutdown timeout runs out.</param>
    /// <param name="weight">The seats the item takes, 1 or more.</param>
    /// <param name="partition">The tenant, user or key the item belongs to, if any.</param>
    /// <param name="cancellationToken">Cancels waiting for room in the queue.</param>
    /// <returns>A task that completes when the item is queued (not when it has run).</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="weight"/> is less than 1.</exception>
    /// <exception cref="WorkloadRejectedException">The item is wider than its class can ever seat (<see cref="WorkloadRejectionReason.WeightTooLarge"/>), the queue is full and rejects, or the host is stopping.</exception>
    ValueTask EnqueueAsync(string workloadClass, Func<CancellationToken, ValueTask> work, int weight, string? partition = null, CancellationToken cancellationToken = default);
}
