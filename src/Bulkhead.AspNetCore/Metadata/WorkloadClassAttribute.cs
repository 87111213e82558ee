namespace Bulkhead.AspNetCore;

/// <summary>
/// Puts the requests of a controller, an action or an endpoint in a workload class. An action's attribute overrides
/// its controller's.
/// </summary>
[AttributeUsage(AttributeTargets.Class | AttributeTargets.Method, AllowMultiple = false, Inherited = true)]
public sealed class WorkloadClassAttribute : Attribute, IWorkloadClassMetadata
{
    /// <summary>
    /// Initializes a new instance of the <see cref="WorkloadClassAttribute"/> class.
    /// </summary>
    /// <param name="workloadClass">The name of the workload class.</param>
    public WorkloadClassAttribute(string workloadClass)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(workloadClass);
        WorkloadClass = workloadClass;
    }

    /// <inheritdoc />
    public string WorkloadClass { get; }
}
