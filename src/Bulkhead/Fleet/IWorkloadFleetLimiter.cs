namespace Bulkhead;

/// <summary>
/// Implemented by the limiters an <see cref="IWorkloadFleetLimiterFactory"/> creates, so that the snapshot, the metrics
/// and the dashboard show where a class's fleet-wide limits are decided.
/// </summary>
public interface IWorkloadFleetLimiter
{
    /// <summary>Gets where the class's fleet-wide limits are decided now.</summary>
    WorkloadFleetState State { get; }
}
