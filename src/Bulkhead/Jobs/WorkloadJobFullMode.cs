namespace Bulkhead;

/// <summary>What <c>IWorkloadJobQueue.EnqueueAsync</c> does when a class's job queue is full.</summary>
public enum WorkloadJobFullMode
{
    /// <summary>Waits for room (back-pressure on the producer).</summary>
    Wait,

    /// <summary>Throws <see cref="WorkloadRejectedException"/> with <see cref="WorkloadRejectionReason.QueueFull"/> at once.</summary>
    Reject,
}
