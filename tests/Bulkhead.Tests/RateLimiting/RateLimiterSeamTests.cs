using System.Threading.RateLimiting;
using Bulkhead.Admission.Internal;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace Bulkhead.Tests.RateLimiting;

/// <summary>Any <see cref="PartitionedRateLimiter{TResource}"/> can be a class's admission check.</summary>
public sealed class RateLimiterSeamTests
{
    [Fact]
    public void AddRateLimiter_ConcurrencyLimiterPerPartition_HoldsItsLeaseWithTheSeat()
    {
        using PartitionedRateLimiter<string> limiter = PartitionedRateLimiter.Create<string, string>(key =>
            RateLimitPartition.GetConcurrencyLimiter(key, _ => new ConcurrencyLimiterOptions { PermitLimit = 1, QueueLimit = 0 }));
        using ServiceProvider services = Build(b => b.AddRateLimiter("reporting", _ => limiter));
        IWorkloadScheduler scheduler = services.GetRequiredService<IWorkloadScheduler>();

        WorkloadLease first = scheduler.TryAcquire("reporting", "tenant-a");
        WorkloadLease second = scheduler.TryAcquire("reporting", "tenant-a");
        using WorkloadLease otherTenant = scheduler.TryAcquire("reporting", "tenant-b");

        Assert.True(first.IsAcquired);
        Assert.Equal(WorkloadRejectionReason.RateLimited, second.RejectionReason);
        Assert.True(otherTenant.IsAcquired);
        Assert.Equal(1, scheduler.GetSnapshot()["reporting"].Rejected);

        first.Dispose();
        using WorkloadLease third = scheduler.TryAcquire("reporting", "tenant-a");
        Assert.True(third.IsAcquired);
    }

    [Fact]
    public void AddRateLimiter_WithAPerPartitionLimit_FreesBothThePartitionsSeatAndTheLimitersLease()
    {
        using PartitionedRateLimiter<string> limiter = PartitionedRateLimiter.Create<string, string>(_ =>
            RateLimitPartition.GetConcurrencyLimiter("all", _ => new ConcurrencyLimiterOptions { PermitLimit = 1, QueueLimit = 0 }));
        using ServiceProvider services = Build(b => b.AddRateLimiter("reporting", _ => limiter), c => c.MaxConcurrencyPerPartition = 1);
        IWorkloadScheduler scheduler = services.GetRequiredService<IWorkloadScheduler>();

        WorkloadLease first = scheduler.TryAcquire("reporting", "tenant-a");
        Assert.True(first.IsAcquired);
        Assert.Equal(0, limiter.GetStatistics("x")!.CurrentAvailablePermits);

        first.Dispose();

        Assert.Equal(1, limiter.GetStatistics("x")!.CurrentAvailablePermits);
        using WorkloadLease again = scheduler.TryAcquire("reporting", "tenant-a");
        Assert.True(again.IsAcquired);
        Assert.Equal(1, services.GetRequiredService<WorkloadScheduler>().Resolve("reporting").Queue.TrackedPartitions);
    }

    [Fact]
    public async Task AddRateLimiter_AsynchronousLimiter_IsAwaitedBeforeASeatIsSought()
    {
        var remote = new RemoteLimiter();
        using ServiceProvider services = Build(b => b.AddRateLimiter("reporting", _ => remote));
        IWorkloadScheduler scheduler = services.GetRequiredService<IWorkloadScheduler>();

        Task<WorkloadLease> granted = scheduler.AcquireAsync("reporting", "tenant-a").AsTask();
        Task<WorkloadLease> refused = scheduler.AcquireAsync("reporting", "tenant-b").AsTask();
        Assert.False(granted.IsCompleted || refused.IsCompleted);
        Assert.Equal(0, scheduler.GetSnapshot()["reporting"].InFlight);

        remote.Answer("tenant-a", retryAfter: null);
        remote.Answer("tenant-b", retryAfter: TimeSpan.FromSeconds(3));

        using WorkloadLease lease = await granted.WithTimeout();
        WorkloadLease rejected = await refused.WithTimeout();
        Assert.True(lease.IsAcquired);
        Assert.Equal((WorkloadRejectionReason.RateLimited, TimeSpan.FromSeconds(3)), (rejected.RejectionReason, rejected.RetryAfter));
        Assert.Equal(1, scheduler.GetSnapshot()["reporting"].InFlight);
    }

    [Fact]
    public async Task AddRateLimiter_LimiterGrantsButTheQueueIsFull_GivesTheLimitersLeaseBack()
    {
        using PartitionedRateLimiter<string> limiter = PartitionedRateLimiter.Create<string, string>(_ =>
            RateLimitPartition.GetConcurrencyLimiter("all", _ => new ConcurrencyLimiterOptions { PermitLimit = 2, QueueLimit = 0 }));
        using ServiceProvider services = Build(
            b => b.AddRateLimiter("reporting", _ => limiter),
            c => { c.MaxConcurrency = 1; c.QueueLimit = 0; });
        IWorkloadScheduler scheduler = services.GetRequiredService<IWorkloadScheduler>();
        using WorkloadLease held = scheduler.TryAcquire("reporting");

        WorkloadLease full = await scheduler.AcquireAsync("reporting").WithTimeout();

        Assert.Equal(WorkloadRejectionReason.QueueFull, full.RejectionReason);
        Assert.Equal(1, limiter.GetStatistics("x")!.CurrentAvailablePermits);
    }

    [Fact]
    public void AddRateLimiter_ReplacesTheConfiguredRateLimitAndStaysAcrossReloads()
    {
        using PartitionedRateLimiter<string> limiter = PartitionedRateLimiter.Create<string, string>(_ => RateLimitPartition.GetNoLimiter("all"));
        using ServiceProvider services = Build(
            b => b.AddRateLimiter("reporting", _ => limiter),
            c => c.RateLimit = new WorkloadRateLimitOptions { PermitsPerSecond = 1, Burst = 1 });
        IWorkloadScheduler scheduler = services.GetRequiredService<IWorkloadScheduler>();
        Assert.All(Enumerable.Range(0, 3).Select(_ => scheduler.TryAcquire("reporting")), l => { Assert.True(l.IsAcquired); l.Dispose(); });

        var reloaded = new WorkloadIsolationOptions { TotalConcurrency = 4, DefaultClass = "reporting" };
        reloaded.AddClass("reporting", c => c.RateLimit = new WorkloadRateLimitOptions { PermitsPerSecond = 1, Burst = 1 });
        services.GetRequiredService<WorkloadScheduler>().Apply(reloaded);

        Assert.Same(limiter, services.GetRequiredService<WorkloadScheduler>().Resolve("reporting").Limits.RateLimiter);
        Assert.All(Enumerable.Range(0, 3).Select(_ => scheduler.TryAcquire("reporting")), l => { Assert.True(l.IsAcquired); l.Dispose(); });
    }

    private static ServiceProvider Build(Action<IWorkloadIsolationBuilder> more, Action<WorkloadClassOptions>? reporting = null)
    {
        var services = new ServiceCollection().AddSingleton<TimeProvider>(new FakeTimeProvider());
        IWorkloadIsolationBuilder builder = services.AddWorkloadIsolation(o =>
        {
            o.TotalConcurrency = 8;
            o.DefaultClass = "reporting";
            o.AddClass("reporting", reporting);
        });
        more(builder);
        return services.BuildServiceProvider();
    }

    /// <summary>A limiter that answers later, as one asking a remote store does.</summary>
    private sealed class RemoteLimiter : PartitionedRateLimiter<string>
    {
        private readonly Dictionary<string, TaskCompletionSource<RateLimitLease>> _pending = [];

        public void Answer(string key, TimeSpan? retryAfter) => _pending[key].SetResult(new Lease(retryAfter));

        public override RateLimiterStatistics? GetStatistics(string resource) => null;

        protected override RateLimitLease AttemptAcquireCore(string resource, int permitCount) => new Lease(TimeSpan.FromSeconds(1));

        protected override ValueTask<RateLimitLease> AcquireAsyncCore(string resource, int permitCount, CancellationToken cancellationToken)
        {
            var answer = new TaskCompletionSource<RateLimitLease>(TaskCreationOptions.RunContinuationsAsynchronously);
            _pending[resource] = answer;
            return new ValueTask<RateLimitLease>(answer.Task);
        }

        private sealed class Lease(TimeSpan? retryAfter) : RateLimitLease
        {
            public override bool IsAcquired => retryAfter is null;

            public override IEnumerable<string> MetadataNames => retryAfter is null ? [] : [MetadataName.RetryAfter.Name];

            public override bool TryGetMetadata(string metadataName, out object? metadata)
            {
                metadata = retryAfter;
                return retryAfter is not null && metadataName == MetadataName.RetryAfter.Name;
            }
        }
    }
}
