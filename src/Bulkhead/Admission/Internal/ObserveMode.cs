using Microsoft.Extensions.Logging;

namespace Bulkhead.Admission.Internal;

/// <summary>
/// Observe mode, composed around a class's enforcing decision: every acquisition is decided by the engine exactly as
/// in Enforce (seats taken, waiters queued, limits counted and rejections counted), and the work is admitted at once
/// whatever the decision. A class in Observe mode has one; its work also runs inline (see <c>ExecutionPlacement</c>).
/// </summary>
internal sealed partial class ObserveMode(ClassState owner)
{
    /// <summary>A decision made at once: a seat taken is the work's own; a rejection is counted (by the engine) and admitted anyway.</summary>
    public WorkloadLease Admit(WorkloadLease decided, string? partition)
    {
        if (decided.IsAcquired)
        {
            return decided;
        }

        LogWouldReject(owner.Engine.Logger, owner.Name, decided.RejectionReason!.Value, Telemetry.Internal.LogText.Escape(partition));
        return LeaseTicket.IssueObserved(owner, wait: null);
    }

    /// <summary>
    /// Decides as Enforce would; work the engine would have kept waiting is admitted, and its wait goes on in the
    /// queue, as Enforce's would, while the work runs. The caller's token is not passed: nothing of the caller waits on it.
    /// </summary>
    public ValueTask<WorkloadLease> AcquireAsync(string? partition, WaitMode mode, int weight, long deadlineAt)
    {
        var leave = new CancellationTokenSource();
        ValueTask<WorkloadLease> deciding = owner.Engine.AcquireAsync(owner, partition, mode, weight, leave.Token, deadlineAt);
        if (deciding.IsCompleted)
        {
            leave.Dispose();
            return new ValueTask<WorkloadLease>(Admit(deciding.Result, partition));
        }

        LogWouldQueue(owner.Engine.Logger, owner.Name);
        return new ValueTask<WorkloadLease>(LeaseTicket.IssueObserved(owner, new ObservedWait(deciding.AsTask(), leave)));
    }

    [LoggerMessage(53, LogLevel.Debug, "Workload class '{WorkloadClass}' is in Observe mode: would have rejected a unit of work ({Reason}, partition '{Partition}'); admitted it.")]
    private static partial void LogWouldReject(ILogger logger, string workloadClass, WorkloadRejectionReason reason, string? partition);

    [LoggerMessage(54, LogLevel.Debug, "Workload class '{WorkloadClass}' is in Observe mode: would have kept a unit of work waiting; admitted it, its place in the queue waits on.")]
    private static partial void LogWouldQueue(ILogger logger, string workloadClass);
}
