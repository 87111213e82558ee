using Bulkhead.Jobs.Internal;

namespace Bulkhead;

#pragma warning disable RS0026 // Optional parameters mirror IWorkloadJobQueue.EnqueueAsync, whose overloads these complete.

/// <summary>
/// <c>EnqueueAsync</c> for items written as <see cref="Task"/>-returning methods, as most .NET code is:
/// <c>jobs.EnqueueAsync("reporting", ct => RenderAsync(id, ct))</c> compiles whether the method returns a
/// <see cref="Task"/> or a <see cref="ValueTask"/>.
/// </summary>
public static class WorkloadJobQueueExtensions
{
    /// <summary>Queues <see cref="Task"/>-returning work in a class's job queue; see <see cref="IWorkloadJobQueue.EnqueueAsync(string, Func{CancellationToken, ValueTask}, string?, CancellationToken)"/>.</summary>
    /// <param name="jobs">The job queue.</param>
    /// <param name="workloadClass">The class the item runs in.</param>
    /// <param name="work">The item; its token is canceled when the host's shutdown timeout runs out.</param>
    /// <param name="partition">The tenant, user or key the item belongs to, if any.</param>
    /// <param name="cancellationToken">Cancels waiting for room in the queue.</param>
    /// <returns>A task that completes when the item is queued (not when it has run).</returns>
    /// <exception cref="WorkloadRejectedException">The queue is full and rejects, or the host is stopping.</exception>
    public static ValueTask EnqueueAsync(this IWorkloadJobQueue jobs, string workloadClass, Func<CancellationToken, Task> work, string? partition = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(jobs);
        ArgumentNullException.ThrowIfNull(work);
        Func<CancellationToken, ValueTask> wrapped = ct => new ValueTask(work(ct));

        // Bulkhead's own queue learns the item's cost by its method, not this wrapper's.
        return jobs is WorkloadJobQueue own
            ? own.EnqueueAsync(workloadClass, wrapped, weight: 1, partition, jobType: work, cancellationToken)
            : jobs.EnqueueAsync(workloadClass, wrapped, partition, cancellationToken);
    }

    /// <summary>Queues <see cref="Task"/>-returning work that uses scoped services; see <see cref="IWorkloadJobQueue.EnqueueAsync(string, Func{IServiceProvider, CancellationToken, ValueTask}, string?, CancellationToken)"/>.</summary>
    /// <param name="jobs">The job queue.</param>
    /// <param name="workloadClass">The class the item runs in.</param>
    /// <param name="work">The item, given the services of a scope of its own.</param>
    /// <param name="partition">The tenant, user or key the item belongs to, if any.</param>
    /// <param name="cancellationToken">Cancels waiting for room in the queue.</param>
    /// <returns>A task that completes when the item is queued (not when it has run).</returns>
    /// <exception cref="WorkloadRejectedException">The queue is full and rejects, or the host is stopping.</exception>
    public static ValueTask EnqueueAsync(this IWorkloadJobQueue jobs, string workloadClass, Func<IServiceProvider, CancellationToken, Task> work, string? partition = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(jobs);
        ArgumentNullException.ThrowIfNull(work);
        Func<IServiceProvider, CancellationToken, ValueTask> wrapped = (services, ct) => new ValueTask(work(services, ct));
        return jobs is WorkloadJobQueue own
            ? own.EnqueueScopedAsync(workloadClass, wrapped, partition, jobType: work, cancellationToken)
            : jobs.EnqueueAsync(workloadClass, wrapped, partition, cancellationToken);
    }

    /// <summary>Queues <see cref="Task"/>-returning work that takes <paramref name="weight"/> seats when it runs; see <see cref="IWorkloadJobQueue.EnqueueAsync(string, Func{CancellationToken, ValueTask}, int, string?, CancellationToken)"/>.</summary>
    /// <param name="jobs">The job queue.</param>
    /// <param name="workloadClass">The class the item runs in.</param>
    /// <param name="work">The item; its token is canceled when the host's shutdown timeout runs out.</param>
    /// <param name="weight">The seats the item takes, 1 or more.</param>
    /// <param name="partition">The tenant, user or key the item belongs to, if any.</param>
    /// <param name="cancellationToken">Cancels waiting for room in the queue.</param>
    /// <returns>A task that completes when the item is queued (not when it has run).</returns>
    /// <exception cref="WorkloadRejectedException">The item is wider than its class can ever seat, the queue is full and rejects, or the host is stopping.</exception>
    public static ValueTask EnqueueAsync(this IWorkloadJobQueue jobs, string workloadClass, Func<CancellationToken, Task> work, int weight, string? partition = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(jobs);
        ArgumentNullException.ThrowIfNull(work);
        return jobs.EnqueueAsync(workloadClass, ct => new ValueTask(work(ct)), weight, partition, cancellationToken);
    }
}
