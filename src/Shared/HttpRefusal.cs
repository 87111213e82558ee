using System.Net;

namespace Bulkhead.Shared;

/// <summary>
/// How a refusal is answered over HTTP, the same for a request the middleware refuses (Bulkhead.AspNetCore) and for an
/// outgoing call its class refuses (Bulkhead.Http): compiled into both, so that the two answers cannot drift apart.
/// </summary>
internal static class HttpRefusal
{
    /// <summary>429 Too Many Requests when a rate limit refused; otherwise 503 Service Unavailable.</summary>
    public static HttpStatusCode Status(WorkloadRejectionReason reason) =>
        reason == WorkloadRejectionReason.RateLimited ? HttpStatusCode.TooManyRequests : HttpStatusCode.ServiceUnavailable;

    /// <summary>
    /// Whether waiting can help: not for work wider than its class can ever seat, nor for work whose caller's deadline
    /// passed (nobody waits for it); neither gets a <c>Retry-After</c>.
    /// </summary>
    public static bool IsRetryable(WorkloadRejectionReason reason) =>
        reason is not (WorkloadRejectionReason.WeightTooLarge or WorkloadRejectionReason.DeadlineExceeded);

    /// <summary><c>Retry-After</c> in whole seconds, rounded up, at least one.</summary>
    public static long Seconds(TimeSpan retryAfter) => Math.Max(1, (long)Math.Ceiling(retryAfter.TotalSeconds));
}
