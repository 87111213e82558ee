using System.Globalization;
using Microsoft.AspNetCore.Http;

namespace Bulkhead.AspNetCore.Middleware.Internal;

/// <summary>
/// The IETF <c>RateLimit-Policy</c> and <c>RateLimit</c> response fields (draft-ietf-httpapi-ratelimit-headers) for a
/// class with a built-in rate limit, written once admission has decided, before the response starts.
/// </summary>
internal static class RateLimitHeaders
{
    public const string Policy = "RateLimit-Policy";
    public const string Current = "RateLimit";

    public static void Write(HttpContext context, WorkloadClass workloadClass, string? partition)
    {
        if (workloadClass.GetRateLimitState(partition) is not { } state || context.Response.HasStarted)
        {
            return;
        }

        // Structured fields: the policy named by the class, whole seconds rounded up.
        string name = workloadClass.Name.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal);
        IHeaderDictionary headers = context.Response.Headers;
        headers[Policy] = string.Create(CultureInfo.InvariantCulture, $"\"{name}\";q={state.Quota};w={Seconds(state.Window)}");
        headers[Current] = string.Create(CultureInfo.InvariantCulture, $"\"{name}\";r={state.Remaining};t={Seconds(state.Reset)}");
    }

    private static long Seconds(TimeSpan span) => (long)Math.Ceiling(span.TotalSeconds);
}
