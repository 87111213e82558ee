using System.Diagnostics.Metrics;
using BenchmarkDotNet.Attributes;
using Microsoft.Extensions.DependencyInjection;

namespace Bulkhead.Benchmarks.Telemetry;

/// <summary>
/// What metrics cost an admission: the fast path (a free seat taken and given back through a class handle) of three
/// identical hosts in the same run, one with no listener, one with a <see cref="MeterListener"/> on every instrument
/// of its <c>Bulkhead</c> meter, and one that keeps the dashboard's history (as <c>MapWorkloadIsolationDiagnostics</c>
/// starts it).
/// </summary>
[MemoryDiagnoser]
public class MetricsListenerBenchmark
{
    private ServiceProvider _quiet = null!;
    private ServiceProvider _listened = null!;
    private ServiceProvider _recorded = null!;
    private WorkloadClass _recordedClass = null!;
    private MeterListener _listener = null!;
    private WorkloadClass _quietClass = null!;
    private WorkloadClass _listenedClass = null!;
    private long _measurements;

    [GlobalSetup]
    public void Setup()
    {
        _quiet = Build();
        _listened = Build();
        _recorded = Build();
        var recorded = (Bulkhead.Admission.Internal.WorkloadScheduler)_recorded.GetRequiredService<IWorkloadScheduler>();
        recorded.History.Start();
        _recordedClass = recorded.GetClass("interactive");
        IMeterFactory listenedMeters = _listened.GetRequiredService<IMeterFactory>();
        _quietClass = _quiet.GetRequiredService<IWorkloadScheduler>().GetClass("interactive");
        _listenedClass = _listened.GetRequiredService<IWorkloadScheduler>().GetClass("interactive");

        _listener = new MeterListener
        {
            InstrumentPublished = (instrument, listener) =>
            {
                if (instrument.Meter.Name == WorkloadIsolationTelemetry.MeterName && instrument.Meter.Scope == listenedMeters)
                {
                    listener.EnableMeasurementEvents(instrument);
                }
            },
        };
        _listener.SetMeasurementEventCallback<long>((_, _, _, _) => _measurements++);
        _listener.SetMeasurementEventCallback<double>((_, _, _, _) => _measurements++);
        _listener.Start();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _listener.Dispose();
        _quiet.Dispose();
        _listened.Dispose();
        _recorded.Dispose();
    }

    [Benchmark(Baseline = true, Description = "TryAcquire+Dispose, no listener")]
    public bool NoListener()
    {
        using WorkloadLease lease = _quietClass.TryAcquire();
        return lease.IsAcquired;
    }

    [Benchmark(Description = "TryAcquire+Dispose, listener on every instrument")]
    public bool ListenerOnEveryInstrument()
    {
        using WorkloadLease lease = _listenedClass.TryAcquire();
        return lease.IsAcquired;
    }

    [Benchmark(Description = "TryAcquire+Dispose, history kept (dashboard mapped)")]
    public bool HistoryKept()
    {
        using WorkloadLease lease = _recordedClass.TryAcquire();
        return lease.IsAcquired;
    }

    private static ServiceProvider Build() => new ServiceCollection()
        .AddWorkloadIsolation(o =>
        {
            o.TotalConcurrency = 64;
            o.DefaultClass = "interactive";
            o.AddClass("interactive", c => c.ReservedConcurrency = 16);
            o.AddClass("reporting", c => { c.Priority = 2; c.MaxConcurrency = 8; });
        })
        .Services.BuildServiceProvider();
}
