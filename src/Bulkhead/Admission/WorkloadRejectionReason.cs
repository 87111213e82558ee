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
}
