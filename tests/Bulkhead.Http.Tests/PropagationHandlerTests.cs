using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace Bulkhead.Http.Tests;

/// <summary>What <c>AddWorkloadPropagation</c> puts on a call: the current unit of work's class and remaining time, never what was there.</summary>
public sealed class PropagationHandlerTests
{
    [Fact]
    public async Task ACall_CarriesTheCurrentWorksClassAndRemainingTime_ReplacingWhatWasThere()
    {
        var time = new FakeTimeProvider();
        var seen = new Capture();
        using ServiceProvider services = Services(time, seen);
        HttpClient client = services.GetRequiredService<IHttpClientFactory>().CreateClient("next");

        WorkloadContext.Current = new WorkloadContext("reporting", time.GetUtcNow() + TimeSpan.FromMilliseconds(1500.9));
        using var request = new HttpRequestMessage(HttpMethod.Get, "http://next/price");
        request.Headers.Add("Workload-Class", "interactive");
        request.Headers.Add("Workload-Timeout-Ms", "999999");
        (await client.SendAsync(request).WithTimeout()).Dispose();

        Assert.Equal(("reporting", "1500"), (seen.Class, seen.Timeout));
    }

    [Fact]
    public async Task ACall_WithNoCurrentWork_CarriesNeitherHeader_EvenIfItsCallerSetThem()
    {
        var seen = new Capture();
        using ServiceProvider services = Services(new FakeTimeProvider(), seen);
        HttpClient client = services.GetRequiredService<IHttpClientFactory>().CreateClient("next");

        WorkloadContext.Current = null;
        using var request = new HttpRequestMessage(HttpMethod.Get, "http://next/price");
        request.Headers.Add("Workload-Class", "interactive");
        (await client.SendAsync(request).WithTimeout()).Dispose();

        Assert.Equal((null, null), (seen.Class, seen.Timeout));

        // Work without a deadline sends its class alone.
        WorkloadContext.Current = new WorkloadContext("batch");
        (await client.GetAsync(new Uri("http://next/price")).WithTimeout()).Dispose();
        Assert.Equal(("batch", null), (seen.Class, seen.Timeout));
    }

    [Fact]
    public async Task ACall_PastItsWorksDeadline_IsNotSent()
    {
        var time = new FakeTimeProvider();
        var seen = new Capture();
        using ServiceProvider services = Services(time, seen);
        HttpClient client = services.GetRequiredService<IHttpClientFactory>().CreateClient("next");
        WorkloadContext.Current = new WorkloadContext("interactive", time.GetUtcNow() + TimeSpan.FromMilliseconds(1));
        time.Advance(TimeSpan.FromMilliseconds(1));

        var refused = await Assert.ThrowsAsync<WorkloadRejectedException>(() => client.GetAsync(new Uri("http://next/price")));
        var refusedSync = Assert.Throws<WorkloadRejectedException>(() => client.Send(new HttpRequestMessage(HttpMethod.Get, "http://next/price")));

        Assert.Equal((WorkloadRejectionReason.DeadlineExceeded, null), (refused.Reason, refused.RetryAfter));
        Assert.Equal(("interactive", WorkloadRejectionReason.DeadlineExceeded), (refusedSync.WorkloadClass, refusedSync.Reason));
        Assert.Equal(0, seen.Calls);
    }

    private static ServiceProvider Services(TimeProvider time, Capture seen)
    {
        var services = new ServiceCollection();
        services.AddSingleton(time);
        services.AddHttpClient("next").ConfigurePrimaryHttpMessageHandler(() => seen).AddWorkloadPropagation();
        return services.BuildServiceProvider();
    }

    private sealed class Capture : HttpMessageHandler
    {
        public string? Class { get; private set; }

        public string? Timeout { get; private set; }

        public int Calls { get; private set; }

        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken) => Task.FromResult(Send(request, cancellationToken));

        protected override HttpResponseMessage Send(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            Calls++;
            Class = request.Headers.TryGetValues("Workload-Class", out IEnumerable<string>? c) ? string.Join(",", c) : null;
            Timeout = request.Headers.TryGetValues("Workload-Timeout-Ms", out IEnumerable<string>? t) ? string.Join(",", t) : null;
            return new HttpResponseMessage(HttpStatusCode.OK);
        }
    }
}
