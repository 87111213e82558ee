using System.Net;
using BenchmarkDotNet.Attributes;
using Microsoft.Extensions.DependencyInjection;
using Polly;

namespace Bulkhead.Benchmarks.Outgoing;

/// <summary>
/// What holding a seat costs an outgoing call, a seat free: the same call through an <see cref="HttpMessageInvoker"/> to
/// a dependency that answers at once, with Polly's concurrency limiter in Microsoft.Extensions.Http.Resilience's
/// handler (the baseline), with Bulkhead.Http's handler, and with no handler (what the chain costs without either).
/// </summary>
[MemoryDiagnoser]
public class OutgoingCallBenchmark
{
    private static readonly Uri s_uri = new("http://payments/charge");
    private ServiceProvider _services = null!;
    private HttpMessageInvoker _polly = null!;
    private HttpMessageInvoker _bulkhead = null!;
    private HttpMessageInvoker _none = null!;
    private HttpRequestMessage _request = null!;

    [GlobalSetup]
    public void Setup()
    {
        var services = new ServiceCollection();
        services.AddWorkloadIsolation(o =>
        {
            o.TotalConcurrency = 64;
            o.DefaultClass = "payments-api";
            o.AddClass("payments-api", c => { c.MaxConcurrency = 8; c.QueueLimit = 32; });
        });
        services.AddHttpClient("polly").ConfigurePrimaryHttpMessageHandler(() => new Answered())
            .AddResilienceHandler("limiter", pipeline => pipeline.AddConcurrencyLimiter(8, 32));
        services.AddHttpClient("bulkhead").ConfigurePrimaryHttpMessageHandler(() => new Answered()).AddWorkloadIsolation("payments-api");
        services.AddHttpClient("none").ConfigurePrimaryHttpMessageHandler(() => new Answered());
        _services = services.BuildServiceProvider();

        // Each client's whole chain as the factory makes it (its logging handlers included), the network replaced.
        IHttpMessageHandlerFactory handlers = _services.GetRequiredService<IHttpMessageHandlerFactory>();
        _polly = new HttpMessageInvoker(handlers.CreateHandler("polly"));
        _bulkhead = new HttpMessageInvoker(handlers.CreateHandler("bulkhead"));
        _none = new HttpMessageInvoker(handlers.CreateHandler("none"));
        _request = new HttpRequestMessage(HttpMethod.Get, s_uri);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _polly.Dispose();
        _bulkhead.Dispose();
        _none.Dispose();
        _request.Dispose();
        _services.Dispose();
    }

    [Benchmark(Baseline = true, Description = "Polly concurrency limiter (Http.Resilience handler)")]
    public Task<HttpResponseMessage> Polly() => _polly.SendAsync(_request, CancellationToken.None);

    [Benchmark(Description = "Bulkhead.Http handler")]
    public Task<HttpResponseMessage> Bulkhead() => _bulkhead.SendAsync(_request, CancellationToken.None);

    [Benchmark(Description = "no handler")]
    public Task<HttpResponseMessage> None() => _none.SendAsync(_request, CancellationToken.None);

    /// <summary>A dependency that answers at once, with one response made in advance.</summary>
    private sealed class Answered : HttpMessageHandler
    {
        private readonly Task<HttpResponseMessage> _ok = Task.FromResult(new HttpResponseMessage(HttpStatusCode.OK));

        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken) => _ok;
    }
}
