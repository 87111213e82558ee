namespace Bulkhead;

/// <summary>Where a limit holds: in this process, or across every replica of the service.</summary>
public enum WorkloadLimitScope
{
    /// <summary>The limit holds in this process: N replicas admit N times the limit.</summary>
    Process = 0,

    /// <summary>
    /// The limit holds across the fleet: every replica takes its share from a store they all see (the Bulkhead.Redis
    /// package), which must be registered.
    /// </summary>
    Fleet = 1,
}
