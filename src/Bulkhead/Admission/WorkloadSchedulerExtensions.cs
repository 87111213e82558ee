namespace Bulkhead;

#pragma warning disable RS0026 // Optional parameters mirror IWorkloadScheduler.RunAsync, whose overloads these complete.

/// <summary>
/// <c>RunAsync</c> for work written as <see cref="Task"/>-returning methods, as most .NET code is:
/// <c>scheduler.RunAsync("batch", ct => ExportAsync(id, ct))</c> compiles whether the method returns a
/// <see cref="Task"/> or a <see cref="ValueTask"/>.
/// </summary>
public static class WorkloadSchedulerExtensions
{
    /// <summary>Runs <see cref="Task"/>-returning work while holding a seat of a class; see <see cref="IWorkloadScheduler.RunAsync(string, Func{CancellationToken, ValueTask}, string?, CancellationToken)"/>.</summary>
    /// <param name="scheduler">The scheduler.</param>
    /// <param name="workloadClass">The class name, compared without regard to case.</param>
    /// <param name="work">The work; it receives <paramref name="cancellationToken"/>.</param>
    /// <param name="partition">The tenant, user or key the work belongs to within its class, if any.</param>
    /// <param name="cancellationToken">Cancels the wait, and is passed to the work.</param>
    /// <returns>A task that completes when the work has completed and its seat is free.</returns>
    /// <exception cref="WorkloadRejectedException">The work was not admitted.</exception>
    public static Task RunAsync(this IWorkloadScheduler scheduler, string workloadClass, Func<CancellationToken, Task> work, string? partition = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(scheduler);
        ArgumentNullException.ThrowIfNull(work);
        return scheduler.RunAsync(workloadClass, ct => new ValueTask(work(ct)), partition, cancellationToken);
    }

    /// <summary>Runs <see cref="Task{TResult}"/>-returning work while holding a seat of a class; see <see cref="IWorkloadScheduler.RunAsync{T}(string, Func{CancellationToken, ValueTask{T}}, string?, CancellationToken)"/>.</summary>
    /// <typeparam name="T">The type of the result.</typeparam>
    /// <param name="scheduler">The scheduler.</param>
    /// <param name="workloadClass">The class name, compared without regard to case.</param>
    /// <param name="work">The work; it receives <paramref name="cancellationToken"/>.</param>
    /// <param name="partition">The tenant, user or key the work belongs to within its class, if any.</param>
    /// <param name="cancellationToken">Cancels the wait, and is passed to the work.</param>
    /// <returns>The work's result, once its seat is free.</returns>
    /// <exception cref="WorkloadRejectedException">The work was not admitted.</exception>
    public static Task<T> RunAsync<T>(this IWorkloadScheduler scheduler, string workloadClass, Func<CancellationToken, Task<T>> work, string? partition = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(scheduler);
        ArgumentNullException.ThrowIfNull(work);
        return scheduler.RunAsync(workloadClass, ct => new ValueTask<T>(work(ct)), partition, cancellationToken);
    }

    /// <summary>
    /// Runs work that takes <paramref name="weight"/> seats of a class at once (see
    /// <see cref="WorkloadRequest.Weight"/>), waiting for them when they are not free.
    /// </summary>
    /// <param name="scheduler">The scheduler.</param>
    /// <param name="workloadClass">The class name, compared without regard to case.</param>
    /// <param name="weight">The seats the work takes, 1 or more.</param>
    /// <param name="work">The work; it receives <paramref name="cancellationToken"/>.</param>
    /// <param name="partition">The tenant, user or key the work belongs to within its class, if any.</param>
    /// <param name="cancellationToken">Cancels the wait, and is passed to the work.</param>
    /// <returns>A task that completes when the work has completed and its seats are free.</returns>
    /// <exception cref="ArgumentException"><paramref name="workloadClass"/> is not a configured class.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="weight"/> is less than 1.</exception>
    /// <exception cref="WorkloadRejectedException">The work was not admitted (<see cref="WorkloadRejectionReason.WeightTooLarge"/> when the class can never seat it).</exception>
    public static Task RunAsync(this IWorkloadScheduler scheduler, string workloadClass, int weight, Func<CancellationToken, Task> work, string? partition = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(work);
        return RunAsync(scheduler, workloadClass, weight, async ct =>
        {
            await work(ct).ConfigureAwait(false);
            return true;
        }, partition, cancellationToken);
    }

    /// <summary>Runs work that returns a result and takes <paramref name="weight"/> seats of a class at once; see <see cref="RunAsync(IWorkloadScheduler, string, int, Func{CancellationToken, Task}, string?, CancellationToken)"/>.</summary>
    /// <typeparam name="T">The type of the result.</typeparam>
    /// <param name="scheduler">The scheduler.</param>
    /// <param name="workloadClass">The class name, compared without regard to case.</param>
    /// <param name="weight">The seats the work takes, 1 or more.</param>
    /// <param name="work">The work; it receives <paramref name="cancellationToken"/>.</param>
    /// <param name="partition">The tenant, user or key the work belongs to within its class, if any.</param>
    /// <param name="cancellationToken">Cancels the wait, and is passed to the work.</param>
    /// <returns>The work's result, once its seats are free.</returns>
    /// <exception cref="ArgumentException"><paramref name="workloadClass"/> is not a configured class.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="weight"/> is less than 1.</exception>
    /// <exception cref="WorkloadRejectedException">The work was not admitted.</exception>
    public static Task<T> RunAsync<T>(this IWorkloadScheduler scheduler, string workloadClass, int weight, Func<CancellationToken, Task<T>> work, string? partition = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(scheduler);
        ArgumentNullException.ThrowIfNull(work);
        WorkloadClass c = scheduler.GetClass(workloadClass);
        ValueTask<WorkloadLease> acquiring = c.AcquireAsync(new WorkloadRequest(partition) { Weight = weight }, cancellationToken);
        return RunWeightedAsync(c, acquiring, work, cancellationToken);
    }

    private static async Task<T> RunWeightedAsync<T>(WorkloadClass c, ValueTask<WorkloadLease> acquiring, Func<CancellationToken, Task<T>> work, CancellationToken cancellationToken)
    {
        WorkloadLease lease = await acquiring.ConfigureAwait(false);
        if (!lease.IsAcquired)
        {
            throw new WorkloadRejectedException(lease.WorkloadClass, lease.RejectionReason!.Value, lease.RetryAfter);
        }

        return await c.ExecuteAsync(lease, static (state, token) => ((Func<CancellationToken, Task<T>>)state!)(token), work, cancellationToken).ConfigureAwait(false);
    }
}
