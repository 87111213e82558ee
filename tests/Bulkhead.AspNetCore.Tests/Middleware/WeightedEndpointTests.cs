using System.Net;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace Bulkhead.AspNetCore.Tests.Middleware;

/// <summary>Requests that take several seats: by endpoint (<c>WithWorkloadClass(name, weight)</c>, <c>[WorkloadClass(Weight = n)]</c>) and by rule.</summary>
public sealed class WeightedEndpointTests
{
    private const string Section = """
        { "WorkloadIsolation": {
            "TotalConcurrency": 4, "DefaultClass": "reporting",
            "Classes": { "reporting": { "QueueLimit": 0 } },
            "Http": { "IncludeRejectionDetails": true, "Rules": [ { "PathPrefix": "/by-rule", "Class": "reporting", "Weight": 2 } ] } } }
        """;

    private readonly TaskCompletionSource _release = new(TaskCreationOptions.RunContinuationsAsynchronously);

    [Theory]
    [InlineData("/wide", 3)]
    [InlineData("/by-attribute", 2)]
    [InlineData("/by-rule", 2)]
    public async Task WeightedRequest_HoldsItsSeatsUntilItEnds(string path, int weight)
    {
        await using WebApplication app = await StartAsync(Section);
        using HttpClient client = app.GetTestClient();
        IWorkloadScheduler scheduler = app.Services.GetRequiredService<IWorkloadScheduler>();

        Task<HttpResponseMessage> holding = client.GetAsync(new Uri(path, UriKind.Relative));
        await Eventually.TrueAsync(() => scheduler.GetSnapshot()["reporting"].InFlight == weight, $"{path} holds {weight} seats");

        // The seats left take narrow requests, one each, and no more.
        List<Task<HttpResponseMessage>> narrow = [.. Enumerable.Range(0, 4 - weight).Select(_ => client.GetAsync(new Uri("/narrow-held", UriKind.Relative)))];
        await Eventually.TrueAsync(() => scheduler.GetSnapshot()["reporting"].InFlight == 4, "every seat is taken");
        using HttpResponseMessage refused = await client.GetAsync(new Uri("/narrow", UriKind.Relative));
        Assert.Equal(HttpStatusCode.ServiceUnavailable, refused.StatusCode);

        _release.TrySetResult();
        using HttpResponseMessage done = await holding.WithTimeout();
        Assert.Equal(HttpStatusCode.OK, done.StatusCode);
        foreach (Task<HttpResponseMessage> n in narrow)
        {
            using HttpResponseMessage response = await n.WithTimeout();
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        await Eventually.TrueAsync(() => scheduler.GetSnapshot()["reporting"].InFlight == 0, "every seat is free");
    }

    [Fact]
    public async Task RequestWiderThanItsClass_Is503WithoutRetryAfterAndSaysWhy()
    {
        await using WebApplication app = await StartAsync(Section);
        using HttpClient client = app.GetTestClient();

        using HttpResponseMessage response = await client.GetAsync(new Uri("/too-wide", UriKind.Relative));

        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.Null(response.Headers.RetryAfter);
        string body = await response.Content.ReadAsStringAsync();
        Assert.Contains("WeightTooLarge", body, StringComparison.Ordinal);
        Assert.Contains("Retrying cannot help", body, StringComparison.Ordinal);
        Assert.DoesNotContain("retryAfter", body, StringComparison.Ordinal);
        Assert.Equal(1, app.Services.GetRequiredService<IWorkloadScheduler>().GetSnapshot()["reporting"].RejectedByReason[WorkloadRejectionReason.WeightTooLarge]);
    }

    [Theory]
    [InlineData("0", "Weight must be 1 or more")]
    [InlineData("5", "Weight 5 is more seats than class 'reporting' can ever give (4")]
    public async Task RuleWithABadWeight_FailsAtStart(string weight, string expected)
    {
        string section = Section.Replace("\"Weight\": 2", $"\"Weight\": {weight}", StringComparison.Ordinal);

        var failure = await Assert.ThrowsAsync<OptionsValidationException>(() => StartAsync(section));

        Assert.Contains(expected, failure.Message, StringComparison.Ordinal);
    }

    /// <summary>A class that learns weights (bound from configuration) learns each endpoint's by its route, on the host's TimeProvider.</summary>
    [Fact]
    public async Task EndpointOfALearningClass_TakesTheWeightItsSeatTimeStandsFor()
    {
        const string learning = """
            { "WorkloadIsolation": {
                "TotalConcurrency": 8, "DefaultClass": "reporting",
                "Classes": { "reporting": { "QueueLimit": 0, "LearnedWeight": { "SeatTime": "00:00:00.010", "MaxWeight": 6, "Smoothing": 1 } } } } }
            """;
        var time = new FakeTimeProvider();
        await using WebApplication app = await StartAsync(learning, time);
        using HttpClient client = app.GetTestClient();
        IWorkloadScheduler scheduler = app.Services.GetRequiredService<IWorkloadScheduler>();
        List<int> held = [];

        for (int i = 0; i < 2; i++)
        {
            TaskCompletionSource release = new(TaskCreationOptions.RunContinuationsAsynchronously);
            _gates.Enqueue(release);
            Task<HttpResponseMessage> request = client.GetAsync(new Uri("/learned", UriKind.Relative));
            // The handler has taken its gate: the lease is issued and its seat time started (a seat counted in flight
            // an instant before its lease stamped its start saw the clock move first, once in a full CI run).
            await Eventually.TrueAsync(() => _gates.IsEmpty, "the request runs its handler");
            held.Add(scheduler.GetSnapshot()["reporting"].InFlight);
            time.Advance(TimeSpan.FromMilliseconds(50));
            release.SetResult();
            (await request.WithTimeout()).Dispose();
            await Eventually.TrueAsync(() => scheduler.GetSnapshot()["reporting"].InFlight == 0, "the seats are free");
        }

        Assert.Equal([1, 5], held);
        WorkloadLearnedWeight learned = Assert.Single(scheduler.GetSnapshot()["reporting"].LearnedWeights);
        Assert.Equal(("HTTP: GET /learned", 5, TimeSpan.FromMilliseconds(50)), (learned.CostKey, learned.Weight, learned.SeatTime));
    }

    private readonly System.Collections.Concurrent.ConcurrentQueue<TaskCompletionSource> _gates = new();

    [Fact]
    public void WeightBelowOne_IsABadArgument()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new WorkloadClassAttribute("reporting") { Weight = 0 });
        WebApplication app = WebApplication.CreateSlimBuilder().Build();
        Assert.Throws<ArgumentOutOfRangeException>(() => app.MapGet("/x", () => "x").WithWorkloadClass("reporting", weight: 0));
    }

    private async Task<WebApplication> StartAsync(string json, TimeProvider? time = null)
    {
        WebApplicationBuilder builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseTestServer();
        if (time is not null)
        {
            builder.Services.AddSingleton(time);
        }

        builder.Configuration.AddJsonStream(new MemoryStream(Encoding.UTF8.GetBytes(json)));
        builder.Services.AddWorkloadIsolation(builder.Configuration.GetSection("WorkloadIsolation"));
        WebApplication app = builder.Build();
        app.UseWorkloadIsolation();
        app.MapGet("/wide", Slow).WithWorkloadClass("reporting", weight: 3);
        app.MapGet("/too-wide", () => "never").WithWorkloadClass("reporting", weight: 5);
        app.MapGet("/by-attribute", [WorkloadClass("reporting", Weight = 2)] () => Slow());
        app.MapGet("/by-rule", Slow);
        app.MapGet("/narrow", () => "narrow");
        app.MapGet("/narrow-held", Slow);
        app.MapGet("/learned", async () =>
        {
            _gates.TryDequeue(out TaskCompletionSource? gate);
            await gate!.Task.WaitAsync(TimeSpan.FromSeconds(30));
            return "learned";
        });
        await app.StartAsync().WithTimeout();
        return app;
    }

    private async Task<string> Slow()
    {
        await _release.Task.WaitAsync(TimeSpan.FromSeconds(30));
        return "slow";
    }
}
