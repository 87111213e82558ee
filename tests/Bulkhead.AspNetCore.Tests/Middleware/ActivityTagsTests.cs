using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace Bulkhead.AspNetCore.Tests.Middleware;

/// <summary>The request's span says what Bulkhead decided: class, result, reason, queue wait, and the partition when asked.</summary>
public sealed class ActivityTagsTests : IDisposable
{
    private readonly ConcurrentQueue<Activity> _spans = new();
    private readonly ActivityListener _listener;

    public ActivityTagsTests()
    {
        _listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name == "Microsoft.AspNetCore",
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = _spans.Enqueue,
        };
        ActivitySource.AddActivityListener(_listener);
    }

    public void Dispose() => _listener.Dispose();

    [Fact]
    public async Task AdmittedRejectedWaitedAndExemptRequests_AreTaggedOnTheirSpan()
    {
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using TestApp app = await TestApp.StartAsync(
            o =>
            {
                o.TotalConcurrency = 4;
                o.DefaultClass = "interactive";
                o.AddClass("interactive");
                o.AddClass("reporting", c => { c.Priority = 2; c.MaxConcurrency = 1; c.QueueLimit = 1; });
            },
            a =>
            {
                a.MapGet("/hello", () => "hello");
                a.MapGet("/reports/{id}", async (string id) => { await gate.Task; return id; }).WithWorkloadClass("reporting");
                a.MapGet("/healthz", () => "ok").DisableWorkloadIsolation();
            });
        using HttpClient client = app.CreateClient();

        Assert.Equal(HttpStatusCode.OK, (await SendAsync(client, "/hello")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await SendAsync(client, "/healthz")).StatusCode);
        Task<HttpResponseMessage> running = SendAsync(client, "/reports/1");
        await Eventually.TrueAsync(() => app.Snapshot["reporting"].InFlight == 1, "a report runs");
        Task<HttpResponseMessage> waiting = SendAsync(client, "/reports/2");
        await Eventually.TrueAsync(() => app.Snapshot["reporting"].Queued == 1, "a report waits");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, (await SendAsync(client, "/reports/3")).StatusCode);
        await Task.Delay(TimeSpan.FromMilliseconds(20));
        gate.SetResult();
        Assert.Equal(HttpStatusCode.OK, (await running.WithTimeout()).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await waiting.WithTimeout()).StatusCode);

        await Eventually.TrueAsync(() => _spans.Count(s => Path(s) is not null) >= 5, "every request's span ended");
        Activity hello = Span("/hello");
        Assert.Equal(("interactive", "admitted", 0.0), (Tag(hello, "bulkhead.workload_class"), Tag(hello, "bulkhead.result"), (double)hello.GetTagItem("bulkhead.queue.duration")!));
        Assert.Null(hello.GetTagItem("bulkhead.partition"));
        Activity exempt = Span("/healthz");
        Assert.Equal("exempt", Tag(exempt, "bulkhead.result"));
        Assert.Null(exempt.GetTagItem("bulkhead.workload_class"));
        Activity rejected = Span("/reports/3");
        Assert.Equal(("reporting", "rejected", "queue_full"), (Tag(rejected, "bulkhead.workload_class"), Tag(rejected, "bulkhead.result"), Tag(rejected, "bulkhead.rejection_reason")));
        Activity waited = Span("/reports/2");
        Assert.Equal("admitted", Tag(waited, "bulkhead.result"));
        Assert.True((double)waited.GetTagItem("bulkhead.queue.duration")! >= 0.015, "the waited request's span carries its wait");
    }

    [Fact]
    public async Task Partition_IsTaggedOnlyWhenAsked()
    {
        await using TestApp app = await TestApp.StartAsync(
            o =>
            {
                o.DefaultClass = "interactive";
                o.AddClass("interactive");
            },
            a => a.MapGet("/hello", () => "hello"),
            services => services.AddWorkloadIsolation().ConfigureHttp(h =>
            {
                h.TrustedHeaders.Add("X-Tenant");
                (h.PartitionHeader, h.IncludePartitionInActivity) = ("X-Tenant", true);
            }));
        using HttpClient client = app.CreateClient();
        Assert.Equal(HttpStatusCode.OK, (await SendAsync(client, "/hello", tenant: "tenant-7")).StatusCode);

        await Eventually.TrueAsync(() => _spans.Any(s => Path(s) == "/hello"), "the request's span ended");
        Assert.Equal("tenant-7", Tag(Span("/hello"), "bulkhead.partition"));
    }

    /// <summary>The path a span served, from the trace id each request was sent with.</summary>
    private static string? Path(Activity span) => s_paths.TryGetValue(span.TraceId.ToHexString(), out string? path) ? path : null;

    private static readonly ConcurrentDictionary<string, string> s_paths = new();

    /// <summary>Sends a request under a trace of its own (a <c>traceparent</c> header), so that its span can be found.</summary>
    private static Task<HttpResponseMessage> SendAsync(HttpClient client, string path, string? tenant = null)
    {
        ActivityTraceId trace = ActivityTraceId.CreateRandom();
        s_paths[trace.ToHexString()] = path;
        var request = new HttpRequestMessage(HttpMethod.Get, new Uri(path, UriKind.Relative));
        request.Headers.Add("traceparent", $"00-{trace.ToHexString()}-{ActivitySpanId.CreateRandom().ToHexString()}-01");
        if (tenant is not null)
        {
            request.Headers.Add("X-Tenant", tenant);
        }

        return client.SendAsync(request);
    }

    [Fact]
    public async Task Partition_CanBeAskedForInTheHttpSection()
    {
        WebApplicationBuilder builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseTestServer();
        builder.Configuration.AddJsonStream(new MemoryStream(Encoding.UTF8.GetBytes("""
            { "WorkloadIsolation": { "DefaultClass": "interactive", "Classes": { "interactive": { } },
              "Http": { "TrustedHeaders": [ "X-Tenant" ], "PartitionHeader": "X-Tenant", "IncludePartitionInActivity": true } } }
            """)));
        builder.Services.AddWorkloadIsolation(builder.Configuration.GetSection("WorkloadIsolation"));
        await using WebApplication app = builder.Build();
        app.UseWorkloadIsolation();
        app.MapGet("/from-section", () => "hello");
        await app.StartAsync().WithTimeout();
        using HttpClient client = app.GetTestClient();

        Assert.Equal(HttpStatusCode.OK, (await SendAsync(client, "/from-section", tenant: "tenant-9")).StatusCode);

        await Eventually.TrueAsync(() => _spans.Any(s => Path(s) == "/from-section"), "the request's span ended");
        Assert.Equal("tenant-9", Tag(Span("/from-section"), "bulkhead.partition"));
        await app.StopAsync().WithTimeout();
    }

    private static string? Tag(Activity span, string name) => span.GetTagItem(name) as string;

    private Activity Span(string path) => _spans.Last(s => Path(s) == path);
}
