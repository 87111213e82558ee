using Bulkhead.Admission.Internal;

namespace Bulkhead.Execution.Internal;

/// <summary>
/// Where and under what watch a class's work runs once it holds a seat, chosen once per class whenever its limits
/// change: <see cref="Inline"/> on the caller's thread, <see cref="PlacedExecution"/> on dedicated threads and/or under an
/// execution timeout, or, for a removed class, as the class whose seat the work holds. Every placement frees the
/// lease when the work ends, and at once when the work throws before it returns a task.
/// </summary>
internal abstract class ExecutionPlacement
{
    /// <summary>Work runs on the caller's thread, not timed out: no timer, no hop, no allocation when it completes synchronously.</summary>
    public static readonly ExecutionPlacement Inline = new InlineExecution();

    /// <summary>Chooses the placement of <paramref name="owner"/>'s work under <paramref name="limits"/>.</summary>
    public static ExecutionPlacement For(ClassState owner, ClassLimits limits)
    {
        // Observe changes nothing a user feels: its work runs where it would without Bulkhead, on the caller's
        // thread and never timed out; only the decisions are computed.
        ExecutionPlacement own = limits.Observes || (owner.Threads is null && owner.BacklogThreads is null && limits.ExecutionTimeout is null)
            ? Inline
            : new PlacedExecution(owner, limits.ExecutionTimeout);
        return limits.Removed ? new FallenBackExecution(owner, own) : own;
    }

    /// <summary>Runs <paramref name="work"/> for the seat <paramref name="lease"/> holds, freeing it when the work ends.</summary>
    public abstract Task RunAsync(WorkloadLease lease, Func<object?, CancellationToken, Task> work, object? state, CancellationToken cancellationToken);

    /// <inheritdoc cref="RunAsync(WorkloadLease, Func{object?, CancellationToken, Task}, object?, CancellationToken)"/>
    public abstract Task<TResult> RunAsync<TResult>(WorkloadLease lease, Func<object?, CancellationToken, Task<TResult>> work, object? state, CancellationToken cancellationToken);

    /// <summary>Starts work on the calling thread and frees its seat when it ends (at once when it completes synchronously).</summary>
    protected static Task RunInline(WorkloadLease lease, Func<object?, CancellationToken, Task> work, object? state, CancellationToken cancellationToken)
    {
        Task task = Start(lease, work, state, cancellationToken);
        if (task.IsCompletedSuccessfully)
        {
            lease.Dispose();
            return task;
        }

        return ReleaseWhenDoneAsync(task, lease);
    }

    /// <inheritdoc cref="RunInline(WorkloadLease, Func{object?, CancellationToken, Task}, object?, CancellationToken)"/>
    protected static Task<TResult> RunInline<TResult>(WorkloadLease lease, Func<object?, CancellationToken, Task<TResult>> work, object? state, CancellationToken cancellationToken)
    {
        Task<TResult> task = Start(lease, work, state, cancellationToken);
        if (task.IsCompletedSuccessfully)
        {
            lease.Dispose();
            return task;
        }

        return ReleaseWhenDoneAsync(task, lease);
    }

    /// <summary>Starts inline work; the seat is freed at once when the work throws before it returns a task.</summary>
    private static TTask Start<TTask>(WorkloadLease lease, Func<object?, CancellationToken, TTask> work, object? state, CancellationToken cancellationToken)
        where TTask : Task
    {
        try
        {
            return work(state, cancellationToken);
        }
        catch
        {
            lease.Dispose();
            throw;
        }
    }

    private static async Task ReleaseWhenDoneAsync(Task task, WorkloadLease lease)
    {
        try
        {
            await task.ConfigureAwait(false);
        }
        finally
        {
            lease.Dispose();
        }
    }

    private static async Task<TResult> ReleaseWhenDoneAsync<TResult>(Task<TResult> task, WorkloadLease lease)
    {
        try
        {
            return await task.ConfigureAwait(false);
        }
        finally
        {
            lease.Dispose();
        }
    }

    private sealed class InlineExecution : ExecutionPlacement
    {
        public override Task RunAsync(WorkloadLease lease, Func<object?, CancellationToken, Task> work, object? state, CancellationToken cancellationToken) =>
            RunInline(lease, work, state, cancellationToken);

        public override Task<TResult> RunAsync<TResult>(WorkloadLease lease, Func<object?, CancellationToken, Task<TResult>> work, object? state, CancellationToken cancellationToken) =>
            RunInline(lease, work, state, cancellationToken);
    }

    /// <summary>A removed class's work runs as the class whose seat it holds (its fallback), or as the removed class would have.</summary>
    private sealed class FallenBackExecution(ClassState owner, ExecutionPlacement own) : ExecutionPlacement
    {
        public override Task RunAsync(WorkloadLease lease, Func<object?, CancellationToken, Task> work, object? state, CancellationToken cancellationToken) =>
            PlacementOf(lease).RunAsync(lease, work, state, cancellationToken);

        public override Task<TResult> RunAsync<TResult>(WorkloadLease lease, Func<object?, CancellationToken, Task<TResult>> work, object? state, CancellationToken cancellationToken) =>
            PlacementOf(lease).RunAsync(lease, work, state, cancellationToken);

        private ExecutionPlacement PlacementOf(WorkloadLease lease) =>
            lease.HolderClass is { } holder && holder != owner ? holder.Placement : own;
    }
}
