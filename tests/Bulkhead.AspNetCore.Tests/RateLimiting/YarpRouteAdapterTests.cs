using System.Net;
using System.Threading.RateLimiting;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Yarp.ReverseProxy.Configuration;

namespace Bulkhead.AspNetCore.Tests.RateLimiting;

/// <summary>
/// A workload class as a YARP route's rate limiter policy: a reverse proxy (Kestrel) in front of a service (Kestrel),
/// whose report route admits only what the class's seats allow, partitioned by tenant.
/// </summary>
public sealed class YarpRouteAdapterTests
{
    [Fact]
    public async Task AProxysReportRoute_AdmitsWhatTheClassAllows_AndRefusesTheRest_WhileItsOtherRouteFlows()
    {
        var gate = new Gate();
        await using TestApp service = await TestApp.StartAsync(
            o => o.AddClass("default"),
            web =>
            {
                web.MapGet("/reports/{id}", async (string id) =>
                {
                    await gate.WaitAsync();
                    return $"report {id}";
                });
                web.MapGet("/orders/{id}", (string id) => $"order {id}");
            },
            kestrel: true);

        RouteConfig[] routes =
        [
            new() { RouteId = "reports", ClusterId = "service", RateLimiterPolicy = "reports", Match = new() { Path = "/reports/{**rest}" } },
            new() { RouteId = "orders", ClusterId = "service", Match = new() { Path = "/orders/{**rest}" } },
        ];
        ClusterConfig[] clusters = [new() { ClusterId = "service", Destinations = new Dictionary<string, DestinationConfig> { ["one"] = new() { Address = service.App.Urls.Single() } } }];
        await using TestApp proxy = await TestApp.StartAsync(
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
                web.MapReverseProxy();
            },
            services =>
            {
                services.AddReverseProxy().LoadFromMemory(routes, clusters);
                services.AddRateLimiter(o => o.RejectionStatusCode = StatusCodes.Status503ServiceUnavailable);
                services.AddOptions<Microsoft.AspNetCore.RateLimiting.RateLimiterOptions>().Configure<IWorkloadScheduler>((o, scheduler) =>
                    o.AddPolicy("reports", context => RateLimitPartition.Get<string>(
                        context.Request.Query["tenant"].ToString(),
                        tenant => scheduler.CreateRateLimiter("reports", tenant))));
            },
            kestrel: true);
        using var client = new HttpClient { BaseAddress = new Uri(proxy.App.Urls.Single()) };

        Task<HttpResponseMessage> first = client.GetAsync(new Uri("/reports/1?tenant=a", UriKind.Relative));
        await gate.Entered.WithTimeout();
        using HttpResponseMessage refused = await client.GetAsync(new Uri("/reports/2?tenant=b", UriKind.Relative)).WithTimeout();
        using HttpResponseMessage order = await client.GetAsync(new Uri("/orders/7", UriKind.Relative)).WithTimeout();

        Assert.Equal(HttpStatusCode.ServiceUnavailable, refused.StatusCode);
        Assert.Equal("order 7", await order.Content.ReadAsStringAsync());
        Assert.Equal(1, proxy.Snapshot["reports"].InFlight);
        gate.Open();
        Assert.Equal("report 1", await (await first.WithTimeout()).Content.ReadAsStringAsync());
        Assert.Equal((0, 1L), (proxy.Snapshot["reports"].InFlight, proxy.Snapshot["reports"].Admitted));
    }
}
