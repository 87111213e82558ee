namespace Bulkhead;

/// <summary>
/// The order in which the waiters of one workload class are admitted.
/// </summary>
public enum WorkloadQueueOrder
{
    /// <summary>The oldest waiter is admitted first.</summary>
    Fifo,

    /// <summary>
    /// The newest waiter is admitted first. When the queue is full, the oldest waiter is rejected with
    /// <see cref="WorkloadRejectionReason.QueueFull"/> to make room for the new one.
    /// </summary>
    Lifo,
}
