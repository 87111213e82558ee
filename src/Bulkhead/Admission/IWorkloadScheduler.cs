using System.Diagnostics.CodeAnalysis;

namespace Bulkhead;

#pragma warning disable RS0026 // The overloads with optional parameters are the documented contract (docs/design.md); RunAsync overloads differ by the work's type.

/// <summary>
/// Admits units of work to workload classes: each runs while it holds a seat of its class, waits in its class's queue,
/// or is rejected.
/// </summary>
/// <remarks>
/// Registered as a singleton by <c>AddWorkloadIsolation</c>. Rejections are returned as leases whose
/// <see cref="WorkloadLease.IsAcquired"/> is <see langword="false"/>, as <c>System.Threading.RateLimiting</c> does;
/// only <c>RunAsync</c> throws <see cref="WorkloadRejectedException"/>.
/// </remarks>
public interface IWorkloadScheduler
{
    /// <summary>
    /// Takes a seat of a class if one is free now, without waiting.
    /// </summary>
    /// <param name="workloadClass">The class name, compared without regard to case.</param>
    /// <param name="partition">The tenant, user or key the work belongs to within its class, if any.</param>
    /// <returns>
    /// An acquired lease that must be disposed to free the seat, or a lease rejected with
    /// <see cref="WorkloadRejectionReason.QueueFull"/> when the work would have to wait.
    /// </returns>
    /// <exception cref="ArgumentException"><paramref name="workloadClass"/> is not a configured class.</exception>
    WorkloadLease TryAcquire(string workloadClass, string? partition = null);

    /// <summary>
    /// Takes a seat of a class, waiting in the class's queue when none is free.
    /// </summary>
    /// <param name="workloadClass">The class name, compared without regard to case.</param>
    /// <param name="partition">The tenant, user or key the work belongs to within its class, if any.</param>
    /// <param name="cancellationToken">Cancels the wait; the place in the queue is freed at once.</param>
    /// <returns>An acquired lease that must be disposed to free the seat, or a rejected lease.</returns>
    /// <exception cref="ArgumentException"><paramref name="workloadClass"/> is not a configured class.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was canceled before a seat was taken.</exception>
    ValueTask<WorkloadLease> AcquireAsync(string workloadClass, string? partition = null, CancellationToken cancellationToken = default);

    /// <summary>
    /// Runs work while holding a seat of a class, waiting for the seat when none is free.
    /// </summary>
    /// <param name="workloadClass">The class name, compared without regard to case.</param>
    /// <param name="work">The work; it receives <paramref name="cancellationToken"/>.</param>
    /// <param name="partition">The tenant, user or key the work belongs to within its class, if any.</param>
    /// <param name="cancellationToken">Cancels the wait, and is passed to the work.</param>
    /// <returns>A task that completes when the work has completed and its seat is free.</returns>
    /// <exception cref="WorkloadRejectedException">The work was not admitted.</exception>
    Task RunAsync(string workloadClass, Func<CancellationToken, ValueTask> work, string? partition = null, CancellationToken cancellationToken = default);

    /// <summary>
    /// Runs work that returns a result while holding a seat of a class, waiting for the seat when none is free.
    /// </summary>
    /// <typeparam name="T">The type of the result.</typeparam>
    /// <param name="workloadClass">The class name, compared without regard to case.</param>
    /// <param name="work">The work; it receives <paramref name="cancellationToken"/>.</param>
    /// <param name="partition">The tenant, user or key the work belongs to within its class, if any.</param>
    /// <param name="cancellationToken">Cancels the wait, and is passed to the work.</param>
    /// <returns>The work's result, once its seat is free.</returns>
    /// <exception cref="WorkloadRejectedException">The work was not admitted.</exception>
    Task<T> RunAsync<T>(string workloadClass, Func<CancellationToken, ValueTask<T>> work, string? partition = null, CancellationToken cancellationToken = default);

    /// <summary>
    /// Gets the handle of a configured class, to take seats and run work without looking the name up again.
    /// </summary>
    /// <param name="workloadClass">The class name, compared without regard to case.</param>
    /// <returns>The class's handle; it stays valid across configuration reloads.</returns>
    /// <exception cref="ArgumentException"><paramref name="workloadClass"/> is not a configured class.</exception>
    WorkloadClass GetClass(string workloadClass);

    /// <summary>
    /// Gets the handle of a configured class, if there is one by that name.
    /// </summary>
    /// <param name="workloadClass">The class name, compared without regard to case.</param>
    /// <param name="handle">The class's handle, when found.</param>
    /// <returns><see langword="true"/> when the class is configured.</returns>
    bool TryGetClass(string? workloadClass, [NotNullWhen(true)] out WorkloadClass? handle);

    /// <summary>
    /// Gets the class that takes work no rule or caller assigns to a class, and work naming an unknown class.
    /// </summary>
    WorkloadClass DefaultClass { get; }

    /// <summary>
    /// Reads the current state of every class: work in flight, work queued, limits and counts.
    /// </summary>
    /// <returns>A snapshot, consistent for each class.</returns>
    WorkloadSnapshot GetSnapshot();
}
#pragma warning restore RS0026
