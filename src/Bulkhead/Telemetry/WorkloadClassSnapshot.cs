namespace Bulkhead;

/// <summary>
/// The state of one workload class at one moment.
/// </summary>
public sealed class WorkloadClassSnapshot
{
    /// <summary>Gets the class name.</summary>
    public required string Name { get; init; }

    /// <summary>Gets the class's priority on shared seats (0 is the most important).</summary>
    public required int Priority { get; init; }

    /// <summary>Gets the number of units of work holding a seat of this class.</summary>
    public required int InFlight { get; init; }

    /// <summary>Gets the number of units of work waiting for a seat of this class.</summary>
    public required int Queued { get; init; }

    /// <summary>Gets the number of seats only this class may use.</summary>
    public required int ReservedConcurrency { get; init; }

    /// <summary>Gets the most units of work of this class in flight at once.</summary>
    public required int MaxConcurrency { get; init; }

    /// <summary>Gets how many units of work may wait for a seat of this class.</summary>
    public required int QueueLimit { get; init; }

    /// <summary>Gets how many units of work this class has admitted since start.</summary>
    public required long Admitted { get; init; }

    /// <summary>Gets how many units of work this class has rejected since start.</summary>
    public required long Rejected { get; init; }

    /// <summary>Gets how many waiters of this class were canceled by their callers while queued since start.</summary>
    public required long Canceled { get; init; }
}
