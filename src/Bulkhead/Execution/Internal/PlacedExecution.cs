using Bulkhead.Admission.Internal;

namespace Bulkhead.Execution.Internal;

/// <summary>
/// Work placed on the class's dedicated threads (its backlog threads when the seat was granted while more of its
/// partition's work waited), and/or watched by the class's execution timeout.
/// </summary>
internal sealed class PlacedExecution(ClassState owner, TimeSpan? timeout) : ExecutionPlacement
{
    public override Task RunAsync(WorkloadLease lease, Func<object?, CancellationToken, Task> work, object? state, CancellationToken cancellationToken) =>
        RunAsync(
            lease,
            static async (s, token) =>
            {
                var (work, state) = ((Func<object?, CancellationToken, Task>, object?))s!;
                await work(state, token).ConfigureAwait(false);
                return true;
            },
            (work, state),
            cancellationToken);

    public override async Task<TResult> RunAsync<TResult>(WorkloadLease lease, Func<object?, CancellationToken, Task<TResult>> work, object? state, CancellationToken cancellationToken)
    {
        using (lease)
        {
            ExecutionWatch? watch = timeout is { } after ? new ExecutionWatch(owner, after, cancellationToken) : null;
            CancellationToken token = watch?.Token ?? cancellationToken;
            try
            {
                Task<TResult> task = (lease.IsBacklogged ? owner.BacklogThreads ?? owner.Threads : owner.Threads) is { } threads
                    ? Task.Factory.StartNew(() => work(state, token), CancellationToken.None, TaskCreationOptions.DenyChildAttach, threads).Unwrap()
                    : work(state, token);
                return await task.ConfigureAwait(false);
            }
            finally
            {
                watch?.End();
            }
        }
    }
}
