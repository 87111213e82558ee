using System.Threading.RateLimiting;
using BenchmarkDotNet.Attributes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace Bulkhead.Benchmarks.Middleware;

/// <summary>
/// What one refused request costs, on a reused <see cref="DefaultHttpContext"/>: ASP.NET Core's rate limiting
/// middleware with a concurrency limiter whose one permit is held (a bare 503, no body), against UseWorkloadIsolation
/// with a class whose one seat is held and no queue (a 503 with <c>Retry-After</c> and a problem details body). A storm
/// of refused requests runs at normal priority; what each costs is what it takes from the work that is admitted.
/// </summary>
[MemoryDiagnoser]
public class RejectionBenchmark
{
    private ServiceProvider _services = null!;
    private RequestDelegate _aspNetCore = null!;
    private RequestDelegate _bulkhead = null!;
    private DefaultHttpContext _context = null!;
    private RateLimitLease _heldPermit = null!;
    private WorkloadLease _heldSeat;

    [GlobalSetup]
    public void Setup()
    {
        var limiter = new ConcurrencyLimiter(new ConcurrencyLimiterOptions { PermitLimit = 1, QueueLimit = 0 });
        _heldPermit = limiter.AttemptAcquire();
        _services = new ServiceCollection()
            .AddLogging()
            .AddRateLimiter(o =>
            {
                o.GlobalLimiter = PartitionedRateLimiter.Create<HttpContext, string>(_ => RateLimitPartition.Get("all", _ => limiter));
                o.RejectionStatusCode = StatusCodes.Status503ServiceUnavailable;
            })
            .AddWorkloadIsolation(o => { o.DefaultClass = "reports"; o.AddClass("reports", c => { c.MaxConcurrency = 1; c.QueueLimit = 0; }); })
            .Services.BuildServiceProvider();

        var aspNetCore = new ApplicationBuilder(_services);
        aspNetCore.UseRateLimiter();
        aspNetCore.Run(static _ => Task.CompletedTask);
        _aspNetCore = aspNetCore.Build();

        _heldSeat = _services.GetRequiredService<IWorkloadScheduler>().TryAcquire("reports");
        var bulkhead = new ApplicationBuilder(_services);
        bulkhead.UseWorkloadIsolation();
        bulkhead.Run(static _ => Task.CompletedTask);
        _bulkhead = bulkhead.Build();

        _context = new DefaultHttpContext { RequestServices = _services };
        _context.Request.Path = "/reports";
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _heldSeat.Dispose();
        _heldPermit.Dispose();
        _services.Dispose();
    }

    [Benchmark(Baseline = true, Description = "ASP.NET Core rate limiter, 503")]
    public Task AspNetCore()
    {
        _context.Response.StatusCode = StatusCodes.Status200OK;
        return _aspNetCore(_context);
    }

    [Benchmark(Description = "UseWorkloadIsolation, 503 with Retry-After and problem details")]
    public Task Bulkhead()
    {
        _context.Response.StatusCode = StatusCodes.Status200OK;
        _context.Response.Headers.Clear();
        return _bulkhead(_context);
    }
}
