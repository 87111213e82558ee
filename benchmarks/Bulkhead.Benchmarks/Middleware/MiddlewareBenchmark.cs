using BenchmarkDotNet.Attributes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace Bulkhead.Benchmarks.Middleware;

/// <summary>
/// The middleware alone, on a reused <see cref="DefaultHttpContext"/> with a no-op <c>next</c>: the nanoseconds and
/// bytes it adds to a request when a seat is free.
/// </summary>
[MemoryDiagnoser]
public class MiddlewareBenchmark
{
    private ServiceProvider _services = null!;
    private RequestDelegate _bare = null!;
    private RequestDelegate _isolated = null!;
    private DefaultHttpContext _context = null!;
    private DefaultHttpContext _contextWithEndpoint = null!;
    private ServiceProvider _propagatingServices = null!;
    private RequestDelegate _propagating = null!;
    private DefaultHttpContext _propagated = null!;

    [GlobalSetup]
    public void Setup()
    {
        _services = CreateServices();

        var bare = new ApplicationBuilder(_services);
        bare.Run(static _ => Task.CompletedTask);
        _bare = bare.Build();

        var isolated = new ApplicationBuilder(_services);
        isolated.UseWorkloadIsolation();
        isolated.Run(static _ => Task.CompletedTask);
        _isolated = isolated.Build();

        _context = new DefaultHttpContext { RequestServices = _services };
        _context.Request.Path = "/hello";
        _contextWithEndpoint = new DefaultHttpContext { RequestServices = _services };
        _contextWithEndpoint.Request.Path = "/reports/1";
        _contextWithEndpoint.SetEndpoint(new Endpoint(null, new EndpointMetadataCollection(new Bulkhead.AspNetCore.WorkloadClassAttribute("reporting")), "reports"));

        // Propagation on: the request's unit of work made current for its code; a trusted caller's class and time taken.
        _propagatingServices = CreateServices(propagating: true);
        var propagating = new ApplicationBuilder(_propagatingServices);
        propagating.UseWorkloadIsolation();
        propagating.Run(static _ => Task.CompletedTask);
        _propagating = propagating.Build();
        _propagated = new DefaultHttpContext { RequestServices = _propagatingServices };
        _propagated.Request.Path = "/hello";
        _propagated.Connection.RemoteIpAddress = System.Net.IPAddress.Loopback;
        _propagated.Request.Headers["Workload-Class"] = "reporting";
        _propagated.Request.Headers["Workload-Timeout-Ms"] = "5000";
    }

    /// <summary>The services both middleware benchmarks use: 64 seats, <c>interactive</c> (default) and <c>reporting</c>.</summary>
    internal static ServiceProvider CreateServices(bool propagating = false) => new ServiceCollection()
        .AddLogging()
        .AddWorkloadIsolation(o =>
        {
            o.TotalConcurrency = 64;
            o.DefaultClass = "interactive";
            o.AddClass("interactive", c => c.ReservedConcurrency = 16);
            o.AddClass("reporting", c => { c.Priority = 2; c.MaxConcurrency = 8; });
        })
        .ConfigureHttp(h =>
        {
            h.Propagation.Enabled = propagating;
            h.Propagation.TrustedNetworks.Add("127.0.0.0/8");
        })
        .Services.BuildServiceProvider();

    [GlobalCleanup]
    public void Cleanup()
    {
        _services.Dispose();
        _propagatingServices.Dispose();
    }

    [Benchmark(Baseline = true, Description = "no-op next, no middleware")]
    public Task Bare() => _bare(_context);

    [Benchmark(Description = "UseWorkloadIsolation, default class")]
    public Task DefaultClass() => _isolated(_context);

    [Benchmark(Description = "UseWorkloadIsolation, endpoint metadata class")]
    public Task EndpointClass() => _isolated(_contextWithEndpoint);

    [Benchmark(Description = "UseWorkloadIsolation, propagation on, no caller headers")]
    public Task PropagationNoHeaders() => _propagating(_context);

    [Benchmark(Description = "UseWorkloadIsolation, propagation on, trusted caller's class and timeout")]
    public Task PropagationTrustedCaller() => _propagating(_propagated);
}
