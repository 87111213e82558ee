using System.Threading.RateLimiting;
using BenchmarkDotNet.Attributes;

namespace Bulkhead.Benchmarks.Admission;

/// <summary>
/// One uncontended acquire and release of a seat, against the platform's nearest primitives.
/// </summary>
[MemoryDiagnoser]
public class AdmissionBenchmark
{
    private const string Tenant = "tenant-42";

    private Contenders _contenders = null!;
    private ConcurrencyLimiter _limiter = null!;
    private SemaphoreSlim _semaphore = null!;
    private IWorkloadScheduler _scheduler = null!;
    private WorkloadClass _reporting = null!;
    private WorkloadClass _rated = null!;
    private WorkloadClass _tenants = null!;
    private PartitionedRateLimiter<string> _bclTokenBuckets = null!;
    private PartitionedRateLimiter<string> _bclConcurrency = null!;

    [GlobalSetup]
    public void Setup()
    {
        _contenders = new Contenders(64, o =>
        {
            o.TotalConcurrency = 64;
            o.DefaultClass = "interactive";
            o.AddClass("interactive", c => c.ReservedConcurrency = 16);
            o.AddClass("reporting", c => { c.Priority = 2; c.MaxConcurrency = 8; });
            o.AddClass("batch", c => { c.Priority = 3; c.MaxConcurrency = 4; });

            // A rate so high that it never limits: the figures are the cost of checking it.
            o.AddClass("rated", c => { c.Priority = 2; c.RateLimit = new WorkloadRateLimitOptions { PermitsPerSecond = 1e9, Burst = int.MaxValue, PerPartition = true }; });
            o.AddClass("tenants", c => { c.Priority = 2; c.MaxConcurrencyPerPartition = 4; });
        });
        (_limiter, _semaphore, _scheduler) = (_contenders.Limiter, _contenders.Semaphore, _contenders.Scheduler);
        _reporting = _scheduler.GetClass("reporting");
        _rated = _scheduler.GetClass("rated");
        _tenants = _scheduler.GetClass("tenants");

        // The BCL's partitioned limiters for the same two per-tenant rules, as an app would build them.
        _bclTokenBuckets = PartitionedRateLimiter.Create<string, string>(tenant => RateLimitPartition.GetTokenBucketLimiter(tenant, _ => new TokenBucketRateLimiterOptions
        {
            TokenLimit = int.MaxValue,
            TokensPerPeriod = int.MaxValue,
            ReplenishmentPeriod = TimeSpan.FromSeconds(1),
            QueueLimit = 0,
        }));
        _bclConcurrency = PartitionedRateLimiter.Create<string, string>(tenant => RateLimitPartition.GetConcurrencyLimiter(tenant, _ => new ConcurrencyLimiterOptions
        {
            PermitLimit = 4,
            QueueLimit = 0,
        }));
        _bclTokenBuckets.AttemptAcquire(Tenant).Dispose();
        _bclConcurrency.AttemptAcquire(Tenant).Dispose();

        // Known partitions: their bucket and state exist before measuring.
        _scheduler.TryAcquire("rated", Tenant).Dispose();
        _scheduler.TryAcquire("tenants", Tenant).Dispose();
    }


    [GlobalCleanup]
    public void Cleanup()
    {
        _bclTokenBuckets.Dispose();
        _bclConcurrency.Dispose();
        _contenders.Dispose();
    }

    [Benchmark(Baseline = true, Description = "ConcurrencyLimiter AttemptAcquire+Dispose")]
    public bool ConcurrencyLimiter()
    {
        using RateLimitLease lease = _limiter.AttemptAcquire();
        return lease.IsAcquired;
    }

    [Benchmark(Description = "SemaphoreSlim Wait(0)+Release")]
    public bool SemaphoreSlim()
    {
        bool entered = _semaphore.Wait(0);
        _semaphore.Release();
        return entered;
    }

    [Benchmark(Description = "Bulkhead TryAcquire+Dispose (shared seat)")]
    public bool BulkheadSharedSeat()
    {
        using WorkloadLease lease = _scheduler.TryAcquire("reporting");
        return lease.IsAcquired;
    }

    [Benchmark(Description = "Bulkhead WorkloadClass.TryAcquire+Dispose (shared seat, handle)")]
    public bool BulkheadSharedSeatThroughHandle()
    {
        using WorkloadLease lease = _reporting.TryAcquire();
        return lease.IsAcquired;
    }

    [Benchmark(Description = "Bulkhead WorkloadClass.TryAcquire+Dispose (4 seats at once, handle)")]
    public bool BulkheadWideSeatThroughHandle()
    {
        using WorkloadLease lease = _reporting.TryAcquire(new WorkloadRequest { Weight = 4 });
        return lease.IsAcquired;
    }

    [Benchmark(Description = "Bulkhead TryAcquire+Dispose (reserved seat)")]
    public bool BulkheadReservedSeat()
    {
        using WorkloadLease lease = _scheduler.TryAcquire("interactive");
        return lease.IsAcquired;
    }

    [Benchmark(Description = "BCL PartitionedRateLimiter token bucket per tenant AttemptAcquire+Dispose")]
    public bool BclPartitionedTokenBucket()
    {
        using RateLimitLease lease = _bclTokenBuckets.AttemptAcquire(Tenant);
        return lease.IsAcquired;
    }

    [Benchmark(Description = "BCL PartitionedRateLimiter concurrency per tenant AttemptAcquire+Dispose")]
    public bool BclPartitionedConcurrency()
    {
        using RateLimitLease lease = _bclConcurrency.AttemptAcquire(Tenant);
        return lease.IsAcquired;
    }

    [Benchmark(Description = "Bulkhead TryAcquire+Dispose (per-partition rate limit, known partition)")]
    public bool BulkheadRateLimitedPartition()
    {
        using WorkloadLease lease = _scheduler.TryAcquire("rated", Tenant);
        return lease.IsAcquired;
    }

    [Benchmark(Description = "Bulkhead TryAcquire+Dispose (MaxConcurrencyPerPartition, known partition)")]
    public bool BulkheadPartitionLimit()
    {
        using WorkloadLease lease = _scheduler.TryAcquire("tenants", Tenant);
        return lease.IsAcquired;
    }

    // The same two per-tenant paths through a class handle, as the middleware and the other front ends take them (the
    // class name is looked up once, not per call).
    [Benchmark(Description = "Bulkhead WorkloadClass.TryAcquire+Dispose (per-partition rate limit, known partition, handle)")]
    public bool BulkheadRateLimitedPartitionThroughHandle()
    {
        using WorkloadLease lease = _rated.TryAcquire(Tenant);
        return lease.IsAcquired;
    }

    [Benchmark(Description = "Bulkhead WorkloadClass.TryAcquire+Dispose (MaxConcurrencyPerPartition, known partition, handle)")]
    public bool BulkheadPartitionLimitThroughHandle()
    {
        using WorkloadLease lease = _tenants.TryAcquire(Tenant);
        return lease.IsAcquired;
    }

    [Benchmark(Description = "Bulkhead WorkloadClass.AcquireAsync+Dispose (seat free, handle)")]
    public async ValueTask<bool> BulkheadAcquireAsyncThroughHandle()
    {
        using WorkloadLease lease = await _reporting.AcquireAsync();
        return lease.IsAcquired;
    }

    [Benchmark(Description = "Bulkhead AcquireAsync+Dispose (seat free)")]
    public async ValueTask<bool> BulkheadAcquireAsync()
    {
        using WorkloadLease lease = await _scheduler.AcquireAsync("reporting");
        return lease.IsAcquired;
    }
}
