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

    /// <summary>
    /// Gets or sets the seats a request of the endpoint takes in its class at once: a report that costs what four of
    /// the class's usual requests cost takes <c>Weight = 4</c>.
    /// </summary>
    /// <value>The default value is 1.</value>
    /// <exception cref="ArgumentOutOfRangeException">The value is less than 1.</exception>
    public int Weight
    {
        get;
        set
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(value, 1);
            field = value;
        }
    } = 1;
}
