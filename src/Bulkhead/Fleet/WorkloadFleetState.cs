namespace Bulkhead;

/// <summary>Where a class's fleet-wide limits are decided now.</summary>
public enum WorkloadFleetState
{
    /// <summary>The store every replica shares answers: the limits hold across the fleet.</summary>
    Coordinated = 0,

    /// <summary>The store is slow or down: this replica enforces its configured local share of each limit alone.</summary>
    LocalShare = 1,

    /// <summary>The store is slow or down and the class fails closed: work under a fleet-wide limit is rejected.</summary>
    Closed = 2,

    /// <summary>
    /// The store is slow or down and the class keeps its fleet limits strict: work runs only on the seats and permits
    /// this replica took from the store while it answered, until the lease on those seats ends.
    /// </summary>
    Strict = 3,
}
