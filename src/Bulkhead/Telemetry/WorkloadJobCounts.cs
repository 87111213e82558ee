namespace Bulkhead;

/// <summary>
/// The job items of one workload class (<see cref="IWorkloadJobQueue"/>): how many wait and run now, and how each
/// accepted item ended since start.
/// </summary>
public sealed class WorkloadJobCounts
{
    /// <summary>Gets counts of a class that never had a job item.</summary>
    public static WorkloadJobCounts None { get; } = new();

    /// <summary>Gets the items accepted and waiting for a seat.</summary>
    public int Waiting { get; init; }

    /// <summary>Gets the items holding a seat and running.</summary>
    public int Running { get; init; }

    /// <summary>Gets the items that ran to completion.</summary>
    public long Completed { get; init; }

    /// <summary>Gets the items that threw (logged as errors).</summary>
    public long Failed { get; init; }

    /// <summary>Gets the items that never ran because the host stopped first.</summary>
    public long Dropped { get; init; }

    /// <summary>Gets the items whose token was canceled when the host's shutdown timeout ran out.</summary>
    public long Canceled { get; init; }
}
