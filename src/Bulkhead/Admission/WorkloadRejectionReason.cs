namespace Bulkhead;

/// <summary>
/// Why a unit of work was not admitted to its workload class.
/// </summary>
public enum WorkloadRejectionReason
{
    /// <summary>No seat was free and the class's queue was full (or its <c>QueueLimit</c> is 0).</summary>
    QueueFull,

    /// <summary>The unit of work waited its class's <c>QueueTimeout</c> without getting a seat.</summary>
    QueueTimeout,

    /// <summary>The class's or partition's rate limit was exceeded; the work never waited for a seat.</summary>
    RateLimited,

    /// <summary>The scheduler is shutting down and admits no more work.</summary>
    ShuttingDown,

    /// <summary>
    /// The unit of work asked for more seats (its weight) than its class can ever give: more than its
    /// <c>MaxConcurrency</c>, its <c>MaxConcurrencyPerPartition</c>, or its reservation and the shared pool together.
    /// Rejected at once, never queued: retrying cannot help.
    /// </summary>
    WeightTooLarge,

    /// <summary>
    /// The deadline of the caller who waits for the work (<see cref="WorkloadRequest.Deadline"/>, propagated from an
    /// upstream service) passed before a seat was free, or had passed when it asked: nobody waits for its result any
    /// more. Never rejected for this while the work runs; retrying with the same deadline cannot help.
    /// </summary>
    DeadlineExceeded,

    /// <summary>
    /// The process was under pressure: its CPU utilization or memory load was at or above the threshold at which the
    /// class is shed (<see cref="WorkloadClassOptions.Shed"/>). The class admits work again once the pressure eases.
    /// </summary>
    Shed,
}
