using System.Net;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace Bulkhead.AspNetCore.Tests.Rejection;

/// <summary>
/// A <see cref="WorkloadRejectedException"/> thrown by code a request runs (a nested <c>RunAsync</c>, a job queue in
/// Reject mode, the Polly strategy) is answered as the middleware's own rejections are: 503 or 429, Retry-After,
/// problem details or OnRejected; never a 500.
/// </summary>
public sealed class RejectionsFromInsideTests
{
    private static void Classes(WorkloadIsolationOptions o)
    {
        o.TotalConcurrency = 4;
        o.DefaultClass = "interactive";
        o.AddClass("interactive", c => c.ReservedConcurrency = 2);
        o.AddClass("batch", c =>
        {
            c.Priority = 3;
            c.MaxConcurrency = 1;
            c.QueueLimit = 0;
            c.Jobs = new WorkloadJobQueueOptions { Capacity = 1, FullMode = WorkloadJobFullMode.Reject };
        });
        o.AddClass("rated", c => { c.Priority = 2; c.RateLimit = new WorkloadRateLimitOptions { PermitsPerSecond = 0.5, Burst = 1 }; });
    }

    [Fact]
    public async Task NestedRunAsyncRejected_Answers503WithRetryAfterAndProblemDetails()
    {
        await using TestApp app = await TestApp.StartAsync(Classes, a => a.MapGet("/export", async (IWorkloadScheduler scheduler) =>
        {
            await scheduler.RunAsync("batch", _ => ValueTask.CompletedTask);
            return "exported";
        }));
        using WorkloadLease held = app.Scheduler.TryAcquire("batch");
        using HttpClient client = app.CreateClient();

        using HttpResponseMessage response = await client.GetAsync("/export").WithTimeout();

        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.Equal(TimeSpan.FromSeconds(1), response.Headers.RetryAfter?.Delta);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        using JsonDocument body = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Equal("https://tools.ietf.org/html/rfc9110#section-15.6.4", body.RootElement.GetProperty("type").GetString());
        Assert.Equal(0, app.Snapshot["interactive"].InFlight);
    }

    [Fact]
    public async Task RateLimitedInside_Answers429WithTheRetryAfterOfTheLimit()
    {
        var time = new FakeTimeProvider();
        await using TestApp app = await TestApp.StartAsync(
            Classes,
            a => a.MapGet("/rated", async (IWorkloadScheduler scheduler) =>
            {
                await scheduler.RunAsync("rated", _ => ValueTask.CompletedTask);
                return "ok";
            }),
            s => s.AddSingleton<TimeProvider>(time));
        using HttpClient client = app.CreateClient();

        using HttpResponseMessage first = await client.GetAsync("/rated").WithTimeout();
        using HttpResponseMessage second = await client.GetAsync("/rated").WithTimeout();

        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        Assert.Equal(HttpStatusCode.TooManyRequests, second.StatusCode);
        Assert.Equal(TimeSpan.FromSeconds(2), second.Headers.RetryAfter?.Delta);
    }

    [Fact]
    public async Task JobQueueInRejectModeFull_Answers503ThroughOnRejected()
    {
        WorkloadRejectedContext? seen = null;
        await using TestApp app = await TestApp.StartAsync(
            Classes,
            a => a.MapPost("/jobs", async (IWorkloadJobQueue jobs) =>
            {
                await jobs.EnqueueAsync("batch", _ => ValueTask.CompletedTask);
                return Results.Accepted();
            }),
            s => s.AddWorkloadIsolation().ConfigureHttp(h => h.OnRejected = (context, ct) =>
            {
                seen = context;
                return new ValueTask(context.HttpContext.Response.WriteAsync("busy, come back later", ct));
            }));
        using WorkloadLease held = app.Scheduler.TryAcquire("batch");
        using HttpClient client = app.CreateClient();

        using HttpResponseMessage accepted = await client.PostAsync("/jobs", null).WithTimeout();
        using HttpResponseMessage refused = await client.PostAsync("/jobs", null).WithTimeout();

        Assert.Equal(HttpStatusCode.Accepted, accepted.StatusCode);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, refused.StatusCode);
        Assert.Equal("busy, come back later", await refused.Content.ReadAsStringAsync());
        Assert.Equal(("batch", WorkloadRejectionReason.QueueFull), (seen?.WorkloadClass, seen?.Reason));
    }

    [Fact]
    public async Task ThrownSynchronouslyByAnExemptEndpoint_IsAnsweredToo()
    {
        await using TestApp app = await TestApp.StartAsync(Classes, a => a.MapGet("/sync", (HttpContext _) =>
        {
            throw new WorkloadRejectedException("batch", WorkloadRejectionReason.ShuttingDown, TimeSpan.FromSeconds(30));
#pragma warning disable CS0162 // The endpoint needs a return type.
            return "never";
#pragma warning restore CS0162
        }).DisableWorkloadIsolation());
        using HttpClient client = app.CreateClient();

        using HttpResponseMessage response = await client.GetAsync("/sync").WithTimeout();

        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.Equal(TimeSpan.FromSeconds(30), response.Headers.RetryAfter?.Delta);
    }
}
