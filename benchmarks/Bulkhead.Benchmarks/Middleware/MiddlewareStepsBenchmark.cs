using BenchmarkDotNet.Attributes;
using Bulkhead.AspNetCore.Classification.Internal;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Bulkhead.Telemetry.Internal;

namespace Bulkhead.Benchmarks.Middleware;

/// <summary>The middleware's steps one by one, to see where a request's added time goes.</summary>
public class MiddlewareStepsBenchmark
{
    private static readonly Func<object?, CancellationToken, Task> s_work = static (_, _) => Task.CompletedTask;
    private ServiceProvider _services = null!;
    private RequestClassifier _classifier = null!;
    private WorkloadClass _interactive = null!;
    private DefaultHttpContext _context = null!;
    private DefaultHttpContext _contextWithEndpoint = null!;
    private Endpoint _endpoint = null!;

    [GlobalSetup]
    public void Setup()
    {
        _services = MiddlewareBenchmark.CreateServices();
        var scheduler = _services.GetRequiredService<IWorkloadScheduler>();
        _classifier = new RequestClassifier(scheduler, _services.GetRequiredService<IWorkloadIsolationMonitor>(), new Bulkhead.AspNetCore.WorkloadIsolationHttpOptions(), _ => new(), [], new FrontEndCounters(), NullLogger.Instance);
        _interactive = scheduler.GetClass("interactive");
        _context = new DefaultHttpContext { RequestServices = _services };
        _endpoint = new Endpoint(null, new EndpointMetadataCollection(new Bulkhead.AspNetCore.WorkloadClassAttribute("reporting")), "reports");
        _contextWithEndpoint = new DefaultHttpContext { RequestServices = _services };
        _contextWithEndpoint.SetEndpoint(_endpoint);
    }

    [GlobalCleanup]
    public void Cleanup() => _services.Dispose();

    [Benchmark(Description = "GetEndpoint")]
    public Endpoint? GetEndpoint() => _context.GetEndpoint();

    [Benchmark(Description = "RequestAborted")]
    public CancellationToken Aborted() => _context.RequestAborted;

    [Benchmark(Description = "GetPartition")]
    public string? Partition() => _classifier.GetPartition(_context);

    [Benchmark(Description = "Classify, default class")]
    public WorkloadClass? ClassifyDefault() => _classifier.Classify(_context, _context.GetEndpoint());

    [Benchmark(Description = "Classify, endpoint metadata")]
    public WorkloadClass? ClassifyMetadata() => _classifier.Classify(_contextWithEndpoint, _contextWithEndpoint.GetEndpoint());

    [Benchmark(Description = "AcquireAsync (sync) + Dispose")]
    public void Acquire()
    {
        ValueTask<WorkloadLease> acquiring = _interactive.AcquireAsync(null, _context.RequestAborted);
        if (acquiring.IsCompletedSuccessfully)
        {
            acquiring.Result.Dispose();
        }
    }

    [Benchmark(Description = "AcquireAsync (sync) + ExecuteAsync")]
    public Task AcquireExecute()
    {
        ValueTask<WorkloadLease> acquiring = _interactive.AcquireAsync(null, _context.RequestAborted);
        return acquiring.IsCompletedSuccessfully ? _interactive.ExecuteAsync(acquiring.Result, s_work, _context, CancellationToken.None) : Task.CompletedTask;
    }
}
