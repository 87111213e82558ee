using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace Bulkhead.AspNetCore.Tests.Propagation;

/// <summary>
/// Two services on real Kestrel servers on loopback: a front service whose requests call a downstream one. With
/// propagation the downstream service runs each call in the class of the work that made it, and refuses it once its
/// caller has given up; headers from callers it does not trust change nothing.
/// </summary>
public sealed class PropagationTests
{
    private static void Classes(WorkloadIsolationOptions o)
    {
        o.TotalConcurrency = 8;
        o.DefaultClass = "interactive";
        o.AddClass("interactive", c => c.Priority = 0);
        o.AddClass("reporting", c => c.Priority = 2);
    }

    private static Action<IServiceCollection> Propagating(params string[] trustedNetworks) => services => services.Configure<WorkloadIsolationHttpOptions>(o =>
    {
        o.Propagation.Enabled = true;
        foreach (string network in trustedNetworks)
        {
            o.Propagation.TrustedNetworks.Add(network);
        }
    });

    /// <summary>The downstream service: <c>/price</c> (default class) says which unit of work it ran for and what it was sent.</summary>
    private static Task<TestApp> StartDownstreamAsync(Action<IServiceCollection> services, Action<WorkloadIsolationOptions>? configure = null) =>
        TestApp.StartAsync(
            configure ?? Classes,
            web =>
            {
                web.MapGet("/price", (HttpContext context) =>
                    $"{WorkloadContext.Current?.WorkloadClass} {WorkloadContext.Current?.Deadline is not null} {context.Request.Headers["Workload-Timeout-Ms"]}".TrimEnd());
                web.MapGet("/export", () => WorkloadContext.Current?.WorkloadClass).WithWorkloadClass("reporting");
            },
            services,
            kestrel: true);

    /// <summary>The front service: a report and a search, each calling the downstream service through a client that propagates, and the report through one that does not.</summary>
    private static Task<TestApp> StartFrontAsync(Uri downstream, params string[] trustedNetworks) =>
        TestApp.StartAsync(
            Classes,
            web =>
            {
                web.MapGet("/report", (IHttpClientFactory clients) => clients.CreateClient("downstream").GetStringAsync(new Uri(downstream, "/price"))).WithWorkloadClass("reporting");
                web.MapGet("/report-unpropagated", (IHttpClientFactory clients) => clients.CreateClient("plain").GetStringAsync(new Uri(downstream, "/price"))).WithWorkloadClass("reporting");
                web.MapGet("/search", (IHttpClientFactory clients) => clients.CreateClient("downstream").GetStringAsync(new Uri(downstream, "/price")));
                web.MapGet("/slow-search", async (IHttpClientFactory clients) =>
                {
                    await Task.Delay(50);
                    return await clients.CreateClient("downstream").GetStringAsync(new Uri(downstream, "/price"));
                });
            },
            services =>
            {
                Propagating(trustedNetworks)(services);
                services.AddHttpClient("downstream").AddWorkloadPropagation();
                services.AddHttpClient("plain");
            },
            kestrel: true);

    private static Uri AddressOf(TestApp app) => new(app.App.Urls.Single());

    [Fact]
    public async Task AReportsCall_RunsAsAReportDownstream_AndASearchesAsInteractive()
    {
        await using TestApp downstream = await StartDownstreamAsync(Propagating("127.0.0.0/8"));
        await using TestApp front = await StartFrontAsync(AddressOf(downstream));
        using var client = new HttpClient { BaseAddress = AddressOf(front) };

        Assert.Equal("reporting False", await client.GetStringAsync(new Uri("/report", UriKind.Relative)).WithTimeout());
        Assert.Equal("interactive False", await client.GetStringAsync(new Uri("/search", UriKind.Relative)).WithTimeout());

        // Without propagation the report's call looks like any other: the downstream service runs it as interactive.
        Assert.Equal("interactive False", await client.GetStringAsync(new Uri("/report-unpropagated", UriKind.Relative)).WithTimeout());
        Assert.Equal((1L, 2L), (downstream.Snapshot["reporting"].Admitted, downstream.Snapshot["interactive"].Admitted));
    }

    [Fact]
    public async Task HeadersFromAnUntrustedCaller_AreIgnored_AndFromATrustedOne_Honoured()
    {
        using var spoofed = new HttpRequestMessage(HttpMethod.Get, "/export");
        spoofed.Headers.Add("Workload-Class", "interactive");
        spoofed.Headers.Add("Workload-Timeout-Ms", "0");

        // Loopback is not among the trusted networks: a client cannot promote its report, nor have it refused.
        await using (TestApp untrusting = await StartDownstreamAsync(Propagating("10.0.0.0/8")))
        {
            using var client = new HttpClient { BaseAddress = AddressOf(untrusting) };
            using HttpResponseMessage answer = await client.SendAsync(Clone(spoofed)).WithTimeout();
            Assert.Equal("reporting", await answer.Content.ReadAsStringAsync());
        }

        // The same headers from a trusted caller: the class it names, and its time already up.
        await using TestApp trusting = await StartDownstreamAsync(Propagating("127.0.0.1/32"));
        using var trusted = new HttpClient { BaseAddress = AddressOf(trusting) };
        using HttpResponseMessage late = await trusted.SendAsync(Clone(spoofed)).WithTimeout();
        Assert.Equal(HttpStatusCode.ServiceUnavailable, late.StatusCode);
        Assert.Null(late.Headers.RetryAfter);
        Assert.Equal((0L, 1L), (trusting.Snapshot["interactive"].Admitted, trusting.Snapshot["interactive"].RejectedByReason[WorkloadRejectionReason.DeadlineExceeded]));

        using HttpRequestMessage inTime = Clone(spoofed);
        inTime.Headers.Remove("Workload-Timeout-Ms");
        inTime.Headers.Add("Workload-Timeout-Ms", "5000");
        using HttpResponseMessage promoted = await trusted.SendAsync(inTime).WithTimeout();
        Assert.Equal("interactive", await promoted.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task ACallersDeadline_TravelsWithTheCall_AndACallPastItIsNeverSent()
    {
        await using TestApp downstream = await StartDownstreamAsync(Propagating("127.0.0.0/8"));
        await using TestApp front = await StartFrontAsync(AddressOf(downstream), "127.0.0.0/8");
        using var client = new HttpClient { BaseAddress = AddressOf(front) };

        // The user's client (trusted by the front service here) waits 5 s: the downstream call carries what is left.
        using var search = new HttpRequestMessage(HttpMethod.Get, "/search");
        search.Headers.Add("Workload-Timeout-Ms", "5000");
        string seen = await (await client.SendAsync(search).WithTimeout()).Content.ReadAsStringAsync();
        string[] parts = seen.Split(' ');
        Assert.Equal(("interactive", "True"), (parts[0], parts[1]));
        Assert.InRange(long.Parse(parts[2], System.Globalization.CultureInfo.InvariantCulture), 1, 5000);

        // Its caller gave the front service 1 ms; the search spends 50 ms before calling: the call is not sent, and the
        // search is answered as a refusal, not a 500.
        using var hurried = new HttpRequestMessage(HttpMethod.Get, "/slow-search");
        hurried.Headers.Add("Workload-Timeout-Ms", "1");
        using HttpResponseMessage refused = await client.SendAsync(hurried).WithTimeout();
        Assert.Equal(HttpStatusCode.ServiceUnavailable, refused.StatusCode);
        Assert.Null(refused.Headers.RetryAfter);
        Assert.Equal(1L, downstream.Snapshot["interactive"].Admitted);
    }

    [Fact]
    public async Task AQueuedCall_LeavesWhenItsCallersTimeIsUp_WithoutEverRunning()
    {
        var time = new FakeTimeProvider();
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        int ran = 0;
        await using TestApp downstream = await TestApp.StartAsync(
            o =>
            {
                Classes(o);
                o.Classes["interactive"].MaxConcurrency = 1;
                o.Classes["interactive"].QueueLimit = 10;
                o.Classes["interactive"].QueueTimeout = Timeout.InfiniteTimeSpan;
            },
            web => web.MapGet("/price", async () =>
            {
                Interlocked.Increment(ref ran);
                await gate.Task;
                return "done";
            }),
            services =>
            {
                Propagating("127.0.0.0/8")(services);
                services.AddSingleton<TimeProvider>(time);
            },
            kestrel: true);
        using var client = new HttpClient { BaseAddress = AddressOf(downstream) };

        Task<HttpResponseMessage> holding = client.GetAsync(new Uri("/price", UriKind.Relative));
        await Eventually.TrueAsync(() => Volatile.Read(ref ran) == 1, "the first call runs");
        using var request = new HttpRequestMessage(HttpMethod.Get, "/price");
        request.Headers.Add("Workload-Timeout-Ms", "1000");
        Task<HttpResponseMessage> waiting = client.SendAsync(request);
        await Eventually.TrueAsync(() => downstream.Snapshot["interactive"].Queued == 1, "the second call waits for a seat");

        time.Advance(TimeSpan.FromMilliseconds(999));
        Assert.False(waiting.IsCompleted);
        time.Advance(TimeSpan.FromMilliseconds(1));
        using HttpResponseMessage refused = await waiting.WithTimeout();

        Assert.Equal(HttpStatusCode.ServiceUnavailable, refused.StatusCode);
        Assert.Null(refused.Headers.RetryAfter);
        Assert.Equal(1, Volatile.Read(ref ran));
        Assert.Equal(1L, downstream.Snapshot["interactive"].RejectedByReason[WorkloadRejectionReason.DeadlineExceeded]);
        gate.TrySetResult();
        using HttpResponseMessage served = await holding.WithTimeout();
        Assert.Equal(HttpStatusCode.OK, served.StatusCode);
    }

    private static HttpRequestMessage Clone(HttpRequestMessage request)
    {
        var copy = new HttpRequestMessage(request.Method, request.RequestUri);
        foreach (KeyValuePair<string, IEnumerable<string>> header in request.Headers)
        {
            copy.Headers.TryAddWithoutValidation(header.Key, header.Value);
        }

        return copy;
    }
}
