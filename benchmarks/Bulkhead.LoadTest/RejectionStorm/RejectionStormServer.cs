using Bulkhead.AspNetCore;
using Microsoft.AspNetCore.RateLimiting;

namespace Bulkhead.LoadTest.RejectionStorm;

/// <summary>
/// The rejection storm's side of the headline servers: a partner endpoint that refuses all but one call a second, at
/// normal priority, beside the interactive and report endpoints. With Bulkhead, a <c>partner</c> class with a rate limit
/// of 1 per second (429 with Retry-After and a problem details body); with ASP.NET Core's limiter, a fixed window of one
/// permit a second (a bare 503).
/// </summary>
internal static class RejectionStormServer
{
    public const string Path = "/partner";

    public static void Configure(WorkloadIsolationOptions options) =>
        options.AddClass("partner", c =>
        {
            c.Priority = 1;
            c.RateLimit = new WorkloadRateLimitOptions { PermitsPerSecond = 1, Burst = 1 };
        });

    public static void Configure(RateLimiterOptions options) =>
        options.AddFixedWindowLimiter("partner", w =>
        {
            w.PermitLimit = 1;
            w.Window = TimeSpan.FromSeconds(1);
            w.QueueLimit = 0;
        });

    /// <summary>
    /// The library's default pacing of refusal storms, or the value of <c>BULKHEAD_SLOW_REFUSALS_ABOVE</c> (0 answers
    /// every refusal at once: the storm as it was before pacing).
    /// </summary>
    public static void Configure(WorkloadIsolationHttpOptions options)
    {
        if (int.TryParse(Environment.GetEnvironmentVariable("BULKHEAD_SLOW_REFUSALS_ABOVE"), out int above))
        {
            options.SlowRefusalsAbove = above;
        }
    }

    public static void Map(WebApplication app, bool bulkhead)
    {
        RouteHandlerBuilder partner = app.MapGet(Path, () => "partner");
        if (bulkhead)
        {
            partner.WithWorkloadClass("partner");
        }
        else
        {
            partner.RequireRateLimiting("partner");
        }
    }
}
