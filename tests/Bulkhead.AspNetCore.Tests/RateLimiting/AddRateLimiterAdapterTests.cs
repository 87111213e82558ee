using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.Extensions.DependencyInjection;

namespace Bulkhead.AspNetCore.Tests.RateLimiting;

/// <summary>A workload class plugged into ASP.NET Core's own rate limiting middleware, as its global limiter.</summary>
public sealed class AddRateLimiterAdapterTests
{
    [Fact]
    public async Task AClassAsTheGlobalLimiter_AdmitsWhatItsSeatsAllow_AndTheMiddlewareRefusesTheRest()
    {
        var gate = new Gate();
        await using TestApp app = await TestApp.StartAsync(
            o =>
            {
                o.TotalConcurrency = 8;
                o.DefaultClass = "interactive";
                o.AddClass("interactive", c => c.Priority = 0);
                o.AddClass("reports", c => { c.Priority = 2; c.MaxConcurrency = 1; c.QueueLimit = 0; });
            },
            web =>
            {
                web.UseRateLimiter();
                web.MapGet("/reports", async () =>
                {
                    await gate.WaitAsync();
                    return "report";
                }).DisableWorkloadIsolation();
            },
            services =>
            {
                services.AddRateLimiter(o => o.RejectionStatusCode = StatusCodes.Status503ServiceUnavailable);
                services.AddOptions<RateLimiterOptions>().Configure<IWorkloadScheduler>((o, scheduler) =>
                    o.GlobalLimiter = scheduler.CreatePartitionedRateLimiter<HttpContext>("reports", context => context.Request.Query["tenant"]));
            });
        HttpClient client = app.CreateClient();

        Task<HttpResponseMessage> first = client.GetAsync(new Uri("/reports?tenant=a", UriKind.Relative));
        await gate.Entered.WithTimeout();
        using HttpResponseMessage refused = await client.GetAsync(new Uri("/reports?tenant=b", UriKind.Relative)).WithTimeout();

        Assert.Equal(HttpStatusCode.ServiceUnavailable, refused.StatusCode);
        Assert.Equal(1, app.Snapshot["reports"].InFlight);
        gate.Open();
        Assert.Equal(HttpStatusCode.OK, (await first.WithTimeout()).StatusCode);

        // ASP.NET Core's middleware tries at once, then waits (AttemptAcquire, then AcquireAsync): the refused request
        // is two refusals in the class's figures, as it is in the statistics of the platform's own limiters.
        Assert.Equal((0, 1L, 2L), (app.Snapshot["reports"].InFlight, app.Snapshot["reports"].Admitted, app.Snapshot["reports"].Rejected));
    }
}
