using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;

namespace Bulkhead.AspNetCore.Tests.Middleware;

/// <summary>An opt-in response header names the class that took a request; none is sent by default.</summary>
public sealed class WorkloadClassHeaderTests
{
    private static void Classes(WorkloadIsolationOptions o)
    {
        o.TotalConcurrency = 4;
        o.DefaultClass = "interactive";
        o.AddClass("interactive", c => c.ReservedConcurrency = 2);
        o.AddClass("reporting", c => { c.Priority = 2; c.MaxConcurrency = 1; c.QueueLimit = 0; });
    }

    [Fact]
    public async Task HeaderNamed_AdmittedAndRejectedRequestsCarryTheirClass()
    {
        await using TestApp app = await TestApp.StartAsync(
            Classes,
            a =>
            {
                a.MapGet("/hello", () => "hello");
                a.MapGet("/reports", () => "report").WithWorkloadClass("reporting");
                a.MapGet("/healthz", () => "healthy").DisableWorkloadIsolation();
            },
            s => s.AddWorkloadIsolation().ConfigureHttp(h => h.WorkloadClassResponseHeader = "X-Workload-Class"));
        using HttpClient client = app.CreateClient();

        using HttpResponseMessage hello = await client.GetAsync("/hello").WithTimeout();
        using HttpResponseMessage report = await client.GetAsync("/reports").WithTimeout();
        using HttpResponseMessage health = await client.GetAsync("/healthz").WithTimeout();
        using WorkloadLease held = app.Scheduler.TryAcquire("reporting");
        using HttpResponseMessage refused = await client.GetAsync("/reports").WithTimeout();

        Assert.Equal("interactive", Header(hello));
        Assert.Equal("reporting", Header(report));
        Assert.Null(Header(health));
        Assert.Equal(HttpStatusCode.ServiceUnavailable, refused.StatusCode);
        Assert.Equal("reporting", Header(refused));
    }

    [Fact]
    public async Task NoHeaderNamed_NoneIsSent()
    {
        await using TestApp app = await TestApp.StartAsync(Classes, a => a.MapGet("/hello", () => "hello"));
        using HttpClient client = app.CreateClient();

        using HttpResponseMessage hello = await client.GetAsync("/hello").WithTimeout();

        Assert.DoesNotContain(hello.Headers, h => h.Key.Contains("Workload", StringComparison.OrdinalIgnoreCase));
    }

    private static string? Header(HttpResponseMessage response) =>
        response.Headers.TryGetValues("X-Workload-Class", out IEnumerable<string>? values) ? values.Single() : null;
}
