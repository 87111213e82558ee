namespace Bulkhead.AspNetCore;

/// <summary>
/// Endpoint metadata that puts requests to the endpoint in a workload class.
/// </summary>
public interface IWorkloadClassMetadata
{
    /// <summary>Gets the name of the workload class.</summary>
    string WorkloadClass { get; }

    /// <summary>
    /// Gets the seats a request of the endpoint takes in its class at once: how many of the class's usual requests it
    /// costs. Every seat rule counts them (see <c>WorkloadRequest.Weight</c>).
    /// </summary>
    /// <value>1 unless the metadata says otherwise.</value>
    int Weight => 1;
}
