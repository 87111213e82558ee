using System.Net;
using Bulkhead.Http.Internal;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Microsoft.Extensions.Time.Testing;

namespace Bulkhead.Http.Tests;

/// <summary>
/// Client-side adaptive throttling: while the dependency refuses, calls are refused here with probability
/// max(0, (requests − K·accepts) / (requests + 1)) over the window; a healthy dependency never sees one refused.
/// </summary>
public sealed class AdaptiveThrottlingTests
{
    [Fact]
    public void TheProbability_FollowsTheFormula_AndForgetsWhatLeftTheWindow()
    {
        var time = new FakeTimeProvider();
        var throttle = new AdaptiveThrottle(new WorkloadAdaptiveThrottlingOptions { Multiplier = 2, Window = TimeSpan.FromSeconds(60) }, time, draw: () => 0.5);

        // Nothing counted: every call goes. Two sent and refused by the dependency: 2 / 3 of the next are refused here.
        Assert.True(throttle.TryAdmit());
        throttle.Sent();
        Assert.Equal(0.5, throttle.RejectionProbability);
        Assert.True(throttle.TryAdmit());
        throttle.Sent();
        Assert.Equal(2.0 / 3, throttle.RejectionProbability, 12);

        // A draw under the probability refuses the call here, and the refusal counts as a request.
        Assert.False(throttle.TryAdmit());
        Assert.Equal(3.0 / 4, throttle.RejectionProbability, 12);

        // Accepts bring it down: 3 requests against 2 × 2 accepts is no refusal.
        throttle.Accepted();
        throttle.Accepted();
        Assert.Equal(0, throttle.RejectionProbability);

        // A minute later (the window), what was counted has left it.
        throttle.Sent();
        throttle.Sent();
        throttle.Sent();
        Assert.True(throttle.RejectionProbability > 0);
        time.Advance(TimeSpan.FromSeconds(61));
        Assert.Equal(0, throttle.RejectionProbability);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public async Task ADependencyThatRefusesEverything_SeesFewCalls_AndAHealthyOneSeesThemAll(int seed)
    {
        // The draws are seeded so a run is repeatable: with Random.Shared, 1 run in 200 sent no call after the first
        // (each next call is refused with probability n / (n + 1)), and the lower bound below failed.
        var time = new FakeTimeProvider();
        var dependency = new Dependency();
        using ServiceProvider services = Services(time, dependency, seed);
        using var metrics = new MetricCollector<long>(services.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>(), WorkloadIsolationTelemetry.MeterName, "bulkhead.outgoing.throttled");
        HttpClient client = services.GetRequiredService<IHttpClientFactory>().CreateClient("payments");

        // Refusing: after the first calls, nearly every call is refused here (the expected sends over 200 calls are
        // about ln 200, 5); each is a 429 made without the network.
        dependency.Status = HttpStatusCode.ServiceUnavailable;
        int throttled = 0;
        for (int i = 0; i < 200; i++)
        {
            using HttpResponseMessage answer = await client.GetAsync(new Uri("http://payments/charge")).WithTimeout();
            throttled += answer.StatusCode == HttpStatusCode.TooManyRequests ? 1 : 0;
        }

        Assert.InRange(dependency.Calls, 2, 40);
        Assert.Equal(200 - dependency.Calls, throttled);
        Assert.Equal(throttled, metrics.GetMeasurementSnapshot().Sum(m => m.Value));
        Assert.All(metrics.GetMeasurementSnapshot(), m => Assert.Equal("payments-api", m.Tags["bulkhead.workload_class"]));

        // Healthy again, once the window has passed: every call reaches it, none is refused here.
        time.Advance(TimeSpan.FromMinutes(2));
        dependency.Status = HttpStatusCode.OK;
        int before = dependency.Calls;
        for (int i = 0; i < 200; i++)
        {
            using HttpResponseMessage answer = await client.GetAsync(new Uri("http://payments/charge")).WithTimeout();
            Assert.Equal(HttpStatusCode.OK, answer.StatusCode);
        }

        Assert.Equal(before + 200, dependency.Calls);
    }

    [Theory]
    [InlineData(0.5, 60)]
    [InlineData(2, 0.5)]
    public void BadThrottlingSettings_FailWhereTheClientIsConfigured(double multiplier, double windowSeconds)
    {
        var services = new ServiceCollection();
        var failure = Assert.Throws<ArgumentException>(() => services.AddHttpClient("payments").AddWorkloadIsolation(o =>
        {
            o.WorkloadClass = "payments-api";
            o.AdaptiveThrottling = new WorkloadAdaptiveThrottlingOptions { Multiplier = multiplier, Window = TimeSpan.FromSeconds(windowSeconds) };
        }));

        Assert.Contains("AdaptiveThrottling needs a Multiplier of at least 1", failure.Message, StringComparison.Ordinal);
    }

    private static ServiceProvider Services(TimeProvider time, Dependency dependency, int seed)
    {
        var services = new ServiceCollection();
        services.AddSingleton(time);
        services.AddMetrics();
        services.AddWorkloadIsolation(o =>
        {
            o.TotalConcurrency = 8;
            o.DefaultClass = "payments-api";
            o.AddClass("payments-api", c => c.QueueLimit = 10);
        });
        services.AddHttpClient("payments")
            .ConfigurePrimaryHttpMessageHandler(() => dependency)
            .AddWorkloadIsolation(o =>
            {
                o.WorkloadClass = "payments-api";
                o.RejectionMode = WorkloadHttpRejectionMode.Respond;
                o.AdaptiveThrottling = new WorkloadAdaptiveThrottlingOptions { Draw = new Random(seed).NextDouble };
            });
        return services.BuildServiceProvider();
    }

    private sealed class Dependency : HttpMessageHandler
    {
        private int _calls;

        public HttpStatusCode Status { get; set; } = HttpStatusCode.OK;

        public int Calls => Volatile.Read(ref _calls);

        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref _calls);
            return Task.FromResult(new HttpResponseMessage(Status));
        }
    }
}
