using System.Threading.RateLimiting;
using BenchmarkDotNet.Attributes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace Bulkhead.Benchmarks.Middleware;

/// <summary>
/// What one refused request costs, on a reused <see cref="DefaultHttpContext"/>: ASP.NET Core's rate limiting
/// middleware with a concurrency limiter whose one permit is held (a bare 503, no body), against UseWorkloadIsolation
/// with a class whose one seat is held and no queue (a 503 with <c>Retry-After</c> and a problem details body), and
/// each side giving the other's answer: ASP.NET Core's limiter writing problem details in <c>OnRejected</c>, Bulkhead
/// writing no body in its <c>OnRejected</c>. Refusal pacing is off so that each refusal is answered at once. A storm
/// of refused requests runs at normal priority; what each costs is what it takes from the work that is admitted.
/// </summary>
[MemoryDiagnoser]
public class RejectionBenchmark
{
    private ServiceProvider _services = null!;
    private RequestDelegate _aspNetCore = null!;
    private RequestDelegate _aspNetCoreProblem = null!;
    private RequestDelegate _bulkhead = null!;
    private RequestDelegate _bulkheadNoBody = null!;
    private DefaultHttpContext _context = null!;
    private RateLimitLease _heldPermit = null!;
    private WorkloadLease _heldSeat;
    private ServiceProvider _noBodyServices = null!;
    private ServiceProvider _problemServices = null!;
    private WorkloadLease _noBodySeat;

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
            .ConfigureHttp(h => h.SlowRefusalsAbove = 0)
            .Services.BuildServiceProvider();

        var aspNetCore = new ApplicationBuilder(_services);
        aspNetCore.UseRateLimiter();
        aspNetCore.Run(static _ => Task.CompletedTask);
        _aspNetCore = aspNetCore.Build();

        _aspNetCoreProblem = AspNetCoreWithProblemDetails(limiter);

        _heldSeat = _services.GetRequiredService<IWorkloadScheduler>().TryAcquire("reports");
        var bulkhead = new ApplicationBuilder(_services);
        bulkhead.UseWorkloadIsolation();
        bulkhead.Run(static _ => Task.CompletedTask);
        _bulkhead = bulkhead.Build();
        _bulkheadNoBody = BulkheadWithoutBody();

        _context = new DefaultHttpContext { RequestServices = _services };
        _context.Request.Path = "/reports";
    }

    private RequestDelegate AspNetCoreWithProblemDetails(ConcurrencyLimiter limiter)
    {
        IProblemDetailsService problemDetails = null!;
        ServiceProvider services = _problemServices = new ServiceCollection()
            .AddLogging()
            .AddProblemDetails()
            .AddRateLimiter(o =>
            {
                o.GlobalLimiter = PartitionedRateLimiter.Create<HttpContext, string>(_ => RateLimitPartition.Get("all", _ => limiter));
                o.RejectionStatusCode = StatusCodes.Status503ServiceUnavailable;
                // As a user would write it to send the same body: the app's problem details, resolved once.
                o.OnRejected = (rejected, _) => problemDetails.WriteAsync(new ProblemDetailsContext { HttpContext = rejected.HttpContext });
            })
            .BuildServiceProvider();
        problemDetails = services.GetRequiredService<IProblemDetailsService>();
        var app = new ApplicationBuilder(services);
        app.UseRateLimiter();
        app.Run(static _ => Task.CompletedTask);
        return app.Build();
    }

    private RequestDelegate BulkheadWithoutBody()
    {
        ServiceProvider services = _noBodyServices = new ServiceCollection()
            .AddLogging()
            .AddWorkloadIsolation(o => { o.DefaultClass = "reports"; o.AddClass("reports", c => { c.MaxConcurrency = 1; c.QueueLimit = 0; }); })
            .ConfigureHttp(h => { h.SlowRefusalsAbove = 0; h.OnRejected = static (_, _) => ValueTask.CompletedTask; })
            .Services.BuildServiceProvider();
        _noBodySeat = services.GetRequiredService<IWorkloadScheduler>().TryAcquire("reports");
        var app = new ApplicationBuilder(services);
        app.UseWorkloadIsolation();
        app.Run(static _ => Task.CompletedTask);
        return app.Build();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _heldSeat.Dispose();
        _noBodySeat.Dispose();
        _noBodyServices.Dispose();
        _problemServices.Dispose();
        _heldPermit.Dispose();
        _services.Dispose();
    }

    [Benchmark(Baseline = true, Description = "ASP.NET Core rate limiter, 503")]
    public Task AspNetCore()
    {
        _context.Response.StatusCode = StatusCodes.Status200OK;
        return _aspNetCore(_context);
    }

    [Benchmark(Description = "ASP.NET Core rate limiter, 503 + problem details (OnRejected)")]
    public Task AspNetCoreProblem()
    {
        _context.Response.StatusCode = StatusCodes.Status200OK;
        _context.Response.Headers.Clear();
        return _aspNetCoreProblem(_context);
    }

    [Benchmark(Description = "UseWorkloadIsolation, 503 + Retry-After, no body (OnRejected)")]
    public Task BulkheadNoBody()
    {
        _context.Response.StatusCode = StatusCodes.Status200OK;
        _context.Response.Headers.Clear();
        return _bulkheadNoBody(_context);
    }

    [Benchmark(Description = "UseWorkloadIsolation, 503 with Retry-After and problem details")]
    public Task Bulkhead()
    {
        _context.Response.StatusCode = StatusCodes.Status200OK;
        _context.Response.Headers.Clear();
        return _bulkhead(_context);
    }
}
