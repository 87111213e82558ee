using BenchmarkDotNet.Attributes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Bulkhead.Benchmarks.Middleware;

/// <summary>
/// A whole request through an in-memory host (TestServer, routing, a minimal endpoint), with and without
/// <c>UseWorkloadIsolation</c>.
/// </summary>
[MemoryDiagnoser]
public class RequestBenchmark
{
    private WebApplication _bare = null!;
    private WebApplication _isolated = null!;
    private TestServer _bareServer = null!;
    private TestServer _isolatedServer = null!;

    [GlobalSetup]
    public void Setup()
    {
        _bare = Build(isolate: false);
        _isolated = Build(isolate: true);
        _bareServer = _bare.GetTestServer();
        _isolatedServer = _isolated.GetTestServer();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _bare.DisposeAsync().AsTask().GetAwaiter().GetResult();
        _isolated.DisposeAsync().AsTask().GetAwaiter().GetResult();
    }

    [Benchmark(Baseline = true, Description = "TestServer + routing + endpoint")]
    public Task<HttpContext> Bare() => _bareServer.SendAsync(static c => c.Request.Path = "/hello");

    [Benchmark(Description = "the same + UseWorkloadIsolation")]
    public Task<HttpContext> Isolated() => _isolatedServer.SendAsync(static c => c.Request.Path = "/hello");

    private static WebApplication Build(bool isolate)
    {
        WebApplicationBuilder builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseTestServer();
        builder.Logging.ClearProviders();
        builder.Services.AddWorkloadIsolation(o =>
        {
            o.DefaultClass = "interactive";
            o.AddClass("interactive", c => c.ReservedConcurrency = 16);
        });
        WebApplication app = builder.Build();
        app.UseRouting();
        if (isolate)
        {
            app.UseWorkloadIsolation();
        }

        app.MapGet("/hello", static () => "hello");
        app.StartAsync().GetAwaiter().GetResult();
        return app;
    }
}
