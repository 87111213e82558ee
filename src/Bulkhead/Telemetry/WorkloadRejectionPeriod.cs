namespace Bulkhead;

/// <summary>
/// A period in which a workload class rejected work with no pause of a second or more
/// (<see cref="WorkloadClassSnapshot.RecentRejections"/>), as ages from the moment of the snapshot.
/// </summary>
public sealed class WorkloadRejectionPeriod
{
    /// <summary>Gets how long before the snapshot the period's first rejection was.</summary>
    public required TimeSpan StartedAgo { get; init; }

    /// <summary>Gets how long before the snapshot the period's last rejection was.</summary>
    public required TimeSpan EndedAgo { get; init; }

    /// <summary>Gets how many units of work the class rejected in the period.</summary>
    public required long Rejected { get; init; }
}
