namespace Bulkhead.Admission.Internal;

/// <summary>
/// In Observe mode, the place in the queue that work admitted at once would have waited in: it waits there as Enforce
/// would (admitted, timed out or turned away in its turn, and counted so), and holds its seat once admitted, until the
/// work ends. Work that ends first leaves the queue, counted as canceled.
/// </summary>
internal sealed class ObservedWait(Task<WorkloadLease> wait, CancellationTokenSource leave)
{
    /// <summary>Where an observed lease that holds nothing (the work was admitted though Enforce would have rejected it) points.</summary>
    public static readonly object Nothing = new();

    /// <summary>The work ended: frees the seat its wait won, or leaves the queue.</summary>
    public void End()
    {
        if (wait.IsCompleted)
        {
            Settle(wait, leave);
            return;
        }

        leave.Cancel();
        wait.ContinueWith(static (ended, state) => Settle(ended, (CancellationTokenSource)state!), leave, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
    }

    private static void Settle(Task<WorkloadLease> ended, CancellationTokenSource leave)
    {
        if (ended.IsCompletedSuccessfully)
        {
            ended.Result.Dispose();
        }

        leave.Dispose();
    }
}
