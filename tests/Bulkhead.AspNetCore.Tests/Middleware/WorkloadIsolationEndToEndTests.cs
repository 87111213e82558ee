using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace Bulkhead.AspNetCore.Tests.Middleware;

/// <summary>Whole requests through TestServer: routing, endpoints, controllers and the middleware together.</summary>
public sealed class WorkloadIsolationEndToEndTests
{
    private static void Classes(WorkloadIsolationOptions o)
    {
        o.TotalConcurrency = 4;
        o.DefaultClass = "interactive";
        o.AddClass("interactive", c => c.ReservedConcurrency = 2);
        o.AddClass("reporting", c => { c.Priority = 2; c.MaxConcurrency = 2; c.QueueLimit = 2; c.QueueTimeout = TimeSpan.FromSeconds(5); });
        o.AddClass("admin", c => c.Priority = 1);
    }

    [Fact]
    public async Task ReportingSaturated_InteractiveIsServedAtOnce()
    {
        var gate = new Gate();
        await using TestApp app = await TestApp.StartAsync(Classes, a =>
        {
            a.MapGet("/reports/{id}", async (int id) => { await gate.WaitAsync(); return id; }).WithWorkloadClass("reporting");
            a.MapGet("/hello", () => "hello");
        });
        using HttpClient client = app.CreateClient();

        Task<HttpResponseMessage>[] reports = [.. Enumerable.Range(1, 4).Select(i => client.GetAsync($"/reports/{i}"))];
        await Eventually.TrueAsync(() => app.Snapshot["reporting"] is { InFlight: 2, Queued: 2 }, "two reports run and two wait");

        string hello = await client.GetStringAsync("/hello").WithTimeout();

        Assert.Equal("hello", hello);
        Assert.All(reports, r => Assert.False(r.IsCompleted));
        gate.Open();
        foreach (Task<HttpResponseMessage> report in reports)
        {
            using HttpResponseMessage response = await report.WithTimeout();
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        Assert.All(app.Snapshot.Classes, c => Assert.Equal((0, 0), (c.InFlight, c.Queued)));
    }

    [Fact]
    public async Task QueueFull_Answers503WithRetryAfterAndProblemJson()
    {
        var gate = new Gate();
        await using TestApp app = await TestApp.StartAsync(Classes, a =>
            a.MapGet("/reports", async () => { await gate.WaitAsync(); return "done"; }).WithWorkloadClass("reporting"));
        using HttpClient client = app.CreateClient();
        Task<HttpResponseMessage>[] held = [.. Enumerable.Range(0, 4).Select(_ => client.GetAsync("/reports"))];
        await Eventually.TrueAsync(() => app.Snapshot["reporting"] is { InFlight: 2, Queued: 2 }, "the reporting queue is full");

        using HttpResponseMessage rejected = await client.GetAsync("/reports").WithTimeout();

        Assert.Equal(HttpStatusCode.ServiceUnavailable, rejected.StatusCode);
        Assert.Equal(TimeSpan.FromSeconds(1), rejected.Headers.RetryAfter?.Delta);
        Assert.Equal("application/problem+json", rejected.Content.Headers.ContentType?.MediaType);
        ProblemDetails? problem = await rejected.Content.ReadFromJsonAsync<ProblemDetails>();
        Assert.Equal(503, problem?.Status);
        Assert.Equal("https://tools.ietf.org/html/rfc9110#section-15.6.4", problem!.Type);
        Assert.False(string.IsNullOrEmpty(((JsonElement)problem.Extensions["traceId"]!).GetString()));
        Assert.Equal(1, ((JsonElement)problem.Extensions["retryAfter"]!).GetInt32());
        Assert.False(problem.Extensions.ContainsKey("workloadClass"), "Class names stay internal unless configured.");
        Assert.DoesNotContain("reporting", problem.Detail, StringComparison.Ordinal);
        gate.Open();
        await Task.WhenAll(held).WithTimeout();
    }

    [Fact]
    public async Task QueueFull_TheAppsProblemDetailsService_WritesTheBody()
    {
        var gate = new Gate();
        await using TestApp app = await TestApp.StartAsync(
            Classes,
            a => a.MapGet("/reports", async () => { await gate.WaitAsync(); return "done"; }).WithWorkloadClass("reporting"),
            s => s.AddProblemDetails(o => o.CustomizeProblemDetails = c => c.ProblemDetails.Extensions["region"] = "eu-1"));
        using HttpClient client = app.CreateClient();
        Task<HttpResponseMessage>[] held = [.. Enumerable.Range(0, 4).Select(_ => client.GetAsync("/reports"))];
        await Eventually.TrueAsync(() => app.Snapshot["reporting"] is { InFlight: 2, Queued: 2 }, "the reporting queue is full");

        using HttpResponseMessage rejected = await client.GetAsync("/reports").WithTimeout();

        Assert.Equal(HttpStatusCode.ServiceUnavailable, rejected.StatusCode);
        ProblemDetails? problem = await rejected.Content.ReadFromJsonAsync<ProblemDetails>();
        Assert.Equal("eu-1", ((JsonElement)problem!.Extensions["region"]!).GetString());
        Assert.Equal(1, ((JsonElement)problem.Extensions["retryAfter"]!).GetInt32());
        gate.Open();
        await Task.WhenAll(held).WithTimeout();
    }

    [Fact]
    public async Task QueueTimeout_Answers503()
    {
        var gate = new Gate();
        var time = new FakeTimeProvider();
        await using TestApp app = await TestApp.StartAsync(Classes,
            a => a.MapGet("/reports", async () => { await gate.WaitAsync(); return "done"; }).WithWorkloadClass("reporting"),
            s =>
            {
                s.AddSingleton<TimeProvider>(time);
                s.AddWorkloadIsolation().ConfigureHttp(h => h.IncludeRejectionDetails = true);
            });
        using HttpClient client = app.CreateClient();
        Task<HttpResponseMessage>[] held = [.. Enumerable.Range(0, 2).Select(_ => client.GetAsync("/reports"))];
        await Eventually.TrueAsync(() => app.Snapshot["reporting"].InFlight == 2, "two reports run");
        Task<HttpResponseMessage> waiting = client.GetAsync("/reports");
        await Eventually.TrueAsync(() => app.Snapshot["reporting"].Queued == 1, "a report waits");

        time.Advance(TimeSpan.FromSeconds(5));

        using HttpResponseMessage response = await waiting.WithTimeout();
        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.Contains("QueueTimeout", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        gate.Open();
        await Task.WhenAll(held).WithTimeout();
    }

    [Fact]
    public async Task RateLimited_Answers429WithRetryAfterPerPartition()
    {
        var time = new FakeTimeProvider();
        await using TestApp app = await TestApp.StartAsync(
            o =>
            {
                o.DefaultClass = "reporting";
                o.AddClass("reporting", c => c.RateLimit = new WorkloadRateLimitOptions { PermitsPerSecond = 0.25, Burst = 1, PerPartition = true });
            },
            a => a.MapGet("/reports", () => "report"),
            s =>
            {
                s.AddSingleton<TimeProvider>(time);
                s.AddWorkloadIsolation().ConfigureHttp(h => { h.TrustedHeaders.Add("X-Tenant"); h.PartitionHeader = "X-Tenant"; h.IncludeRejectionDetails = true; });
            });
        using HttpClient client = app.CreateClient();

        using HttpResponseMessage first = await Send(client, "a");
        using HttpResponseMessage second = await Send(client, "a");
        using HttpResponseMessage otherTenant = await Send(client, "b");

        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        Assert.Equal(HttpStatusCode.TooManyRequests, second.StatusCode);
        Assert.Equal(TimeSpan.FromSeconds(4), second.Headers.RetryAfter?.Delta);
        string body = await second.Content.ReadAsStringAsync();
        Assert.Contains("RateLimited", body, StringComparison.Ordinal);
        Assert.Contains("\"type\":\"https://tools.ietf.org/html/rfc6585#section-4\"", body, StringComparison.Ordinal);
        Assert.Contains("\"traceId\":", body, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, otherTenant.StatusCode);
        time.Advance(TimeSpan.FromSeconds(4));
        using HttpResponseMessage later = await Send(client, "a");
        Assert.Equal(HttpStatusCode.OK, later.StatusCode);

        static Task<HttpResponseMessage> Send(HttpClient client, string tenant)
        {
            var request = new HttpRequestMessage(HttpMethod.Get, "/reports");
            request.Headers.Add("X-Tenant", tenant);
            return client.SendAsync(request).WithTimeout();
        }
    }

    [Fact]
    public async Task ClassWithDedicatedThreads_RunsItsHandlersOnThem()
    {
        await using TestApp app = await TestApp.StartAsync(
            o => o.AddClass("default").AddClass("batch", c => c.Execution = new WorkloadExecutionOptions { DedicatedThreads = 1, CpuPriority = WorkloadCpuPriority.Lowest }),
            a =>
            {
                a.MapGet("/export", async () =>
                {
                    string before = Thread.CurrentThread.Name ?? "";
                    await Task.Yield();
                    return $"{before}|{Thread.CurrentThread.Name}";
                }).WithWorkloadClass("batch");
                a.MapGet("/hello", () => Thread.CurrentThread.IsThreadPoolThread ? "pool" : Thread.CurrentThread.Name ?? "");
            });
        using HttpClient client = app.CreateClient();

        string export = await client.GetStringAsync("/export").WithTimeout();
        string hello = await client.GetStringAsync("/hello").WithTimeout();

        // Before and after the await, on the class's threads: one, or a second its watchdog added when a busy machine
        // kept the first from taking work for a while (CI saw "#1|#2" with both cores busy).
        Assert.Matches(@"^Bulkhead batch #\d+\|Bulkhead batch #\d+$", export);
        Assert.Equal("pool", hello);
    }

    [Fact]
    public async Task ExemptEndpoint_IsServedWhileEveryClassIsFull()
    {
        await using TestApp app = await TestApp.StartAsync(o => { o.TotalConcurrency = 1; o.AddClass("default", c => c.QueueLimit = 0); }, a =>
        {
            a.MapGet("/healthz", () => "healthy").DisableWorkloadIsolation();
            a.MapGet("/work", () => "work");
        });
        using HttpClient client = app.CreateClient();
        using WorkloadLease held = app.Scheduler.TryAcquire("default");

        using HttpResponseMessage work = await client.GetAsync("/work").WithTimeout();
        string health = await client.GetStringAsync("/healthz").WithTimeout();

        Assert.Equal(HttpStatusCode.ServiceUnavailable, work.StatusCode);
        Assert.Equal("healthy", health);
        Assert.Equal(1, app.Counters.Exempt);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task HealthChecksAndMetricsScrapes_AreExemptWithoutBeingMarked_UnlessTurnedOff(bool exemptWellKnown)
    {
        // Probes and scrapes were isolated in the default class and answered 503 during an overload until each app
        // exempted them by hand: a load balancer pulled the instance, and the metrics of the incident went missing.
        await using TestApp app = await TestApp.StartAsync(
            o => { o.TotalConcurrency = 1; o.AddClass("default", c => c.QueueLimit = 0).AddClass("ops", c => c.QueueLimit = 0); },
            a =>
            {
                a.MapHealthChecks("/healthz");
                a.MapGet("/metrics", () => "# metrics");
                a.MapHealthChecks("/ready").WithWorkloadClass("ops");
                a.MapGet("/work", () => "work");
            },
            s =>
            {
                s.AddHealthChecks();
                s.Configure<WorkloadIsolationHttpOptions>(h => h.ExemptWellKnownEndpoints = exemptWellKnown);
            });
        using HttpClient client = app.CreateClient();
        using WorkloadLease held = app.Scheduler.TryAcquire("default");

        using HttpResponseMessage work = await client.GetAsync("/work").WithTimeout();
        using HttpResponseMessage health = await client.GetAsync("/healthz").WithTimeout();
        using HttpResponseMessage metrics = await client.GetAsync("/metrics").WithTimeout();
        using HttpResponseMessage marked = await client.GetAsync("/ready").WithTimeout();

        HttpStatusCode expected = exemptWellKnown ? HttpStatusCode.OK : HttpStatusCode.ServiceUnavailable;
        Assert.Equal(HttpStatusCode.ServiceUnavailable, work.StatusCode);
        Assert.Equal(expected, health.StatusCode);
        Assert.Equal(expected, metrics.StatusCode);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, marked.StatusCode);
        Assert.Equal(exemptWellKnown ? 2 : 0, app.Counters.Exempt);
    }

    [Fact]
    public async Task TheSnapshotFromAnEndpoint_IsServedWithBulkheadsJsonContractAlone_AsUnderNativeAot()
    {
        // No reflection-based resolver in the chain (as under Native AOT): the snapshot's own contract must suffice.
        await using TestApp app = await TestApp.StartAsync(
            Classes,
            a => a.MapGet("/workload", (IWorkloadScheduler scheduler) => scheduler.GetSnapshot()).DisableWorkloadIsolation(),
            s => s.ConfigureHttpJsonOptions(o =>
            {
                o.SerializerOptions.TypeInfoResolverChain.Clear();
                o.SerializerOptions.TypeInfoResolverChain.Add(WorkloadIsolationJson.TypeInfoResolver);
            }));
        using HttpClient client = app.CreateClient();

        string json = await client.GetStringAsync("/workload").WithTimeout();

        using var document = System.Text.Json.JsonDocument.Parse(json);
        Assert.Contains(document.RootElement.GetProperty("classes").EnumerateArray(), c => c.GetProperty("name").GetString() == "reporting");
    }

    [Fact]
    public async Task RouteGroupConventionAndControllerAttribute_BothClassify()
    {
        var seen = new List<string>();
        await using TestApp app = await TestApp.StartAsync(Classes, a =>
        {
            RouteGroupBuilder reports = a.MapGroup("/group").WithWorkloadClass("reporting");
            reports.MapGet("/a", (Func<HttpContext, string>)(c => Record(c, seen)));
            reports.MapGet("/b", (Func<HttpContext, string>)(c => Record(c, seen))).WithWorkloadClass("admin");
            a.MapControllers();
        }, s => s.AddControllers().AddApplicationPart(typeof(AdminController).Assembly));
        using HttpClient client = app.CreateClient();

        await client.GetStringAsync("/group/a").WithTimeout();
        await client.GetStringAsync("/group/b").WithTimeout();
        string controller = await client.GetStringAsync("/admin/stats").WithTimeout();
        string action = await client.GetStringAsync("/admin/report").WithTimeout();

        Assert.Equal(["reporting", "admin"], seen);
        Assert.Equal("admin", controller);
        Assert.Equal("reporting", action);
    }

    private static string Record(HttpContext context, List<string> seen)
    {
        string running = RunningClass(context);
        seen.Add(running);
        return running;
    }

    internal static string RunningClass(HttpContext context) =>
        context.RequestServices.GetRequiredService<IWorkloadScheduler>().GetSnapshot().Classes.Single(c => c.InFlight > 0).Name;
}

[ApiController]
[Route("admin")]
[WorkloadClass("admin")]
public sealed class AdminController : ControllerBase
{
    [HttpGet("stats")]
    public string Stats() => WorkloadIsolationEndToEndTests.RunningClass(HttpContext);

    [HttpGet("report")]
    [WorkloadClass("reporting")]
    public string Report() => WorkloadIsolationEndToEndTests.RunningClass(HttpContext);
}
