using Microsoft.Extensions.Logging;

namespace Bulkhead.Admission.Internal;

/// <summary>
/// Observe mode: every acquisition is decided by the engine exactly as in Enforce (seats taken, waiters queued, limits
/// counted and rejections counted), and the work is admitted at once whatever the decision.
/// </summary>
internal sealed partial class ClassState
{
    /// <summary>
    /// Work the engine would have kept waiting: its wait goes on in the queue, as Enforce's would, while the work runs.
    /// The caller's token is not passed: nothing of the caller waits on it.
    /// </summary>
    private ValueTask<WorkloadLease> ObserveAsync(string? partition, WaitMode mode, int weight = 1, long deadlineAt = long.MaxValue)
    {
        var leave = new CancellationTokenSource();
        ValueTask<WorkloadLease> deciding = Engine.AcquireAsync(this, partition, mode, weight, leave.Token, deadlineAt);
        if (deciding.IsCompleted)
        {
            leave.Dispose();
            return new ValueTask<WorkloadLease>(Observed(deciding.Result, partition));
        }

        LogWouldQueue(Engine.Logger, Name);
        return new ValueTask<WorkloadLease>(LeaseTicket.IssueObserved(this, new ObservedWait(deciding.AsTask(), leave)));
    }

    /// <summary>A decision made at once: a seat taken is the work's own; a rejection is counted (by the engine) and admitted anyway.</summary>
    private WorkloadLease Observed(WorkloadLease decided, string? partition)
    {
        if (decided.IsAcquired)
        {
            return decided;
        }

        LogWouldReject(Engine.Logger, Name, decided.RejectionReason!.Value, Telemetry.Internal.LogText.Escape(partition));
        return LeaseTicket.IssueObserved(this, wait: null);
    }

    [LoggerMessage(53, LogLevel.Debug, "Workload class '{WorkloadClass}' is in Observe mode: would have rejected a unit of work ({Reason}, partition '{Partition}'); admitted it.")]
    private static partial void LogWouldReject(ILogger logger, string workloadClass, WorkloadRejectionReason reason, string? partition);

    [LoggerMessage(54, LogLevel.Debug, "Workload class '{WorkloadClass}' is in Observe mode: would have kept a unit of work waiting; admitted it, its place in the queue waits on.")]
    private static partial void LogWouldQueue(ILogger logger, string workloadClass);
}
