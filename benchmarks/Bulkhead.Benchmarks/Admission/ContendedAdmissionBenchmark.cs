using System.Threading.RateLimiting;
using BenchmarkDotNet.Attributes;

namespace Bulkhead.Benchmarks.Admission;

/// <summary>
/// Two threads take turns on one seat: the class is at its limit and the other thread waits in the queue, so every
/// release hands the seat to a waiter.
/// </summary>
[MemoryDiagnoser]
public class ContendedAdmissionBenchmark
{
    private const int Workers = 2;
    private const int Iterations = 2_000;

    private Contenders _contenders = null!;
    private ConcurrencyLimiter _limiter = null!;
    private SemaphoreSlim _semaphore = null!;
    private IWorkloadScheduler _scheduler = null!;

    [GlobalSetup]
    public void Setup()
    {
        _contenders = new Contenders(1, o =>
        {
            o.TotalConcurrency = 8;
            o.DefaultClass = "interactive";
            o.AddClass("interactive", c => c.ReservedConcurrency = 4);
            o.AddClass("batch", c => { c.Priority = 3; c.MaxConcurrency = 1; c.QueueTimeout = Timeout.InfiniteTimeSpan; });
        });
        (_limiter, _semaphore, _scheduler) = (_contenders.Limiter, _contenders.Semaphore, _contenders.Scheduler);
    }

    [GlobalCleanup]
    public void Cleanup() => _contenders.Dispose();

    [Benchmark(Baseline = true, OperationsPerInvoke = Workers * Iterations, Description = "ConcurrencyLimiter AcquireAsync+Dispose, 2 threads, 1 permit")]
    public Task ConcurrencyLimiter() => RunWorkers(async () =>
    {
        using RateLimitLease lease = await _limiter.AcquireAsync();
    });

    [Benchmark(OperationsPerInvoke = Workers * Iterations, Description = "SemaphoreSlim WaitAsync+Release, 2 threads, 1 permit")]
    public Task SemaphoreSlim() => RunWorkers(async () =>
    {
        await _semaphore.WaitAsync();
        _semaphore.Release();
    });

    [Benchmark(OperationsPerInvoke = Workers * Iterations, Description = "Bulkhead AcquireAsync+Dispose, 2 threads, MaxConcurrency 1")]
    public Task Bulkhead() => RunWorkers(async () =>
    {
        using WorkloadLease lease = await _scheduler.AcquireAsync("batch");
    });

    private static Task RunWorkers(Func<Task> operation)
    {
        var workers = new Task[Workers];
        for (int w = 0; w < Workers; w++)
        {
            workers[w] = Task.Run(async () =>
            {
                for (int i = 0; i < Iterations; i++)
                {
                    await operation();
                }
            });
        }

        return Task.WhenAll(workers);
    }
}
