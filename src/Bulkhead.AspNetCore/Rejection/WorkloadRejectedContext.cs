using Microsoft.AspNetCore.Http;

namespace Bulkhead.AspNetCore;

/// <summary>
/// A request that workload isolation rejected, passed to <see cref="WorkloadIsolationHttpOptions.OnRejected"/>.
/// </summary>
public sealed class WorkloadRejectedContext
{
    /// <summary>Gets the rejected request. Its status code and <c>Retry-After</c> header are already set.</summary>
    public required HttpContext HttpContext { get; init; }

    /// <summary>Gets the workload class that rejected the request.</summary>
    public required string WorkloadClass { get; init; }

    /// <summary>Gets why the request was rejected.</summary>
    public required WorkloadRejectionReason Reason { get; init; }

    /// <summary>Gets when the client may try again.</summary>
    public required TimeSpan RetryAfter { get; init; }
}
