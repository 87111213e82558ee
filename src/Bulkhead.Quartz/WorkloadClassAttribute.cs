namespace Bulkhead.Quartz;

/// <summary>Names the workload class a Quartz job type runs in (unless its key is mapped in <see cref="WorkloadIsolationQuartzOptions.ClassesByJob"/>).</summary>
/// <param name="workloadClass">The class's name.</param>
[AttributeUsage(AttributeTargets.Class, Inherited = true, AllowMultiple = false)]
public sealed class WorkloadClassAttribute(string workloadClass) : Attribute
{
    /// <summary>Gets the class's name.</summary>
    public string WorkloadClass { get; } = workloadClass;
}
