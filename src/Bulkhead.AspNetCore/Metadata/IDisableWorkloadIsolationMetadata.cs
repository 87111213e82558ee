namespace Bulkhead.AspNetCore;

/// <summary>
/// Endpoint metadata that exempts the endpoint from workload isolation: its requests are never queued or rejected.
/// </summary>
#pragma warning disable CA1040 // A marker, as ASP.NET Core's own IDisableRateLimitingMetadata.
public interface IDisableWorkloadIsolationMetadata
#pragma warning restore CA1040
{
}
