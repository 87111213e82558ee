namespace Bulkhead.AspNetCore;

/// <summary>
/// Exempts a controller, an action or an endpoint from workload isolation (health probes, metrics scrapes): its
/// requests are never queued or rejected, and are counted as exempt.
/// </summary>
[AttributeUsage(AttributeTargets.Class | AttributeTargets.Method, AllowMultiple = false, Inherited = true)]
public sealed class DisableWorkloadIsolationAttribute : Attribute, IDisableWorkloadIsolationMetadata
{
}
