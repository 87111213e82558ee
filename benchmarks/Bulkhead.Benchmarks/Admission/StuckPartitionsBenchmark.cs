using BenchmarkDotNet.Attributes;
using Microsoft.Extensions.DependencyInjection;

namespace Bulkhead.Benchmarks.Admission;

/// <summary>
/// Many partitions at their <c>MaxConcurrencyPerPartition</c>, each with a waiter: what it costs an unrelated class to
/// take and free a seat (every release looks for waiters to serve), and an arrival at a class's full queue (a waiter to
/// turn away is chosen). Neither may grow with the number of partitions.
/// </summary>
[MemoryDiagnoser]
public class StuckPartitionsBenchmark
{
    private ServiceProvider _services = null!;
    private IWorkloadScheduler _scheduler = null!;
    private readonly List<Task<WorkloadLease>> _waiting = [];
    private int _arrival;

    /// <summary>Gets or sets how many partitions are at their limit with a waiter (and how many wait at the full queue).</summary>
    [Params(0, 10_000)]
    public int Stuck { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _services = new ServiceCollection()
            .AddWorkloadIsolation(o =>
            {
                o.TotalConcurrency = 100_000;
                o.MaxTrackedPartitions = 100_000;
                o.DefaultClass = "interactive";
                o.AddClass("interactive", c => c.ReservedConcurrency = 16);
                o.AddClass("tenants", c =>
                {
                    c.Priority = 2;
                    c.MaxConcurrencyPerPartition = 1;
                    c.QueueLimit = 100_000;
                    c.QueueTimeout = Timeout.InfiniteTimeSpan;
                });
                o.AddClass("full", c =>
                {
                    c.Priority = 3;
                    c.MaxConcurrency = 1;
                    c.QueueLimit = Math.Max(1, Stuck);
                    c.QueueTimeout = Timeout.InfiniteTimeSpan;
                });
            })
            .Services.BuildServiceProvider();
        _scheduler = _services.GetRequiredService<IWorkloadScheduler>();

        _ = _scheduler.TryAcquire("full");
        for (int i = 0; i < Stuck; i++)
        {
            string key = $"tenant-{i}";
            _ = _scheduler.TryAcquire("tenants", key);
            _waiting.Add(_scheduler.AcquireAsync("tenants", key).AsTask());
            _waiting.Add(_scheduler.AcquireAsync("full", key).AsTask());
        }
    }

    [GlobalCleanup]
    public void Cleanup() => _services.Dispose();

    [Benchmark(Description = "another class: TryAcquire+Dispose")]
    public void UnrelatedClass() => _scheduler.TryAcquire("interactive").Dispose();

    [Benchmark(Description = "arrival at the full queue (turned away)")]
    public bool ArrivalAtFullQueue()
    {
        ValueTask<WorkloadLease> arriving = _scheduler.AcquireAsync("full", $"newcomer-{_arrival++ % 64}");
        return arriving.IsCompletedSuccessfully && arriving.Result.IsAcquired;
    }
}
