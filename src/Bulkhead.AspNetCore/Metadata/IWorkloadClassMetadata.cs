namespace Bulkhead.AspNetCore;

/// <summary>
/// Endpoint metadata that puts requests to the endpoint in a workload class.
/// </summary>
public interface IWorkloadClassMetadata
{
    /// <summary>Gets the name of the workload class.</summary>
    string WorkloadClass { get; }
}
