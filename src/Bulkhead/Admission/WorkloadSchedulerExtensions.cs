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
}
