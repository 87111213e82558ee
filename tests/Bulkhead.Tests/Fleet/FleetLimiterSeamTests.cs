using System.Threading.RateLimiting;
using Bulkhead.Admission.Internal;
using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace Bulkhead.Tests.Fleet;

/// <summary>The seam a fleet store plugs into: asked for each class with a fleet-wide limit, at start and at each reload.</summary>
public sealed class FleetLimiterSeamTests
{
    [Fact]
    public void ClassesWithFleetLimits_GetTheFactorysLimiter_KeptAcrossReloadsThatLeaveThemUnchanged()
    {
        var factory = new RecordingFactory();
        using var scheduler = new WorkloadScheduler(Options(rate: 10), new FakeTimeProvider(), fleet: factory);
        PartitionedRateLimiter<string> first = Limiter(scheduler, "reports")!;
        Assert.Same(factory.Created[^1], first);
        Assert.Null(Limiter(scheduler, "interactive"));
        Assert.Equal(WorkloadFleetState.Coordinated, scheduler.GetSnapshot()["reports"].FleetState);
        Assert.Null(scheduler.GetSnapshot()["interactive"].FleetState);

        scheduler.Apply(Options(rate: 10));
        Assert.Same(first, Limiter(scheduler, "reports"));

        scheduler.Apply(Options(rate: 20));
        Assert.NotSame(first, Limiter(scheduler, "reports"));
        Assert.Equal(2, factory.Created.Count);

        // Back to a process-scoped rate: the built-in bucket, and the snapshot says no fleet.
        WorkloadIsolationOptions local = Options(rate: 20);
        local.Classes["reports"].RateLimit = local.Classes["reports"].Fleet!.RateLimit;
        local.Classes["reports"].Fleet = null;
        scheduler.Apply(local);
        Assert.IsNotType<RecordingLimiter>(Limiter(scheduler, "reports"));
        Assert.Null(scheduler.GetSnapshot()["reports"].FleetState);
    }

    [Fact]
    public async Task FleetLimitersRefusal_RejectsAsRateLimited_WithItsRetryAfter_AndItsLeaseIsHeldWithTheSeat()
    {
        var factory = new RecordingFactory();
        using var scheduler = new WorkloadScheduler(Options(rate: 10), new FakeTimeProvider(), fleet: factory);
        WorkloadClass reports = scheduler.GetClass("reports");

        WorkloadLease lease = await reports.AcquireAsync("tenant");
        Assert.True(lease.IsAcquired);
        RecordingLimiter limiter = factory.Created[^1];
        Assert.Equal(["tenant"], limiter.Asked);
        Assert.Equal(1, limiter.Held);
        lease.Dispose();
        Assert.Equal(0, limiter.Held);

        limiter.Refuse = true;
        WorkloadLease refused = await reports.AcquireAsync("tenant");
        Assert.Equal(WorkloadRejectionReason.RateLimited, refused.RejectionReason);
        Assert.Equal(TimeSpan.FromSeconds(3), refused.RetryAfter);
    }

    [Fact]
    public void StartUp_WithAFleetStore_AcceptsFleetLimits()
    {
        using ServiceProvider provider = Services(new RecordingFactory());

        provider.GetRequiredService<IStartupValidator>().Validate();
        Assert.Equal(WorkloadFleetState.Coordinated, provider.GetRequiredService<IWorkloadScheduler>().GetSnapshot()["reports"].FleetState);
    }

    [Fact]
    public void StartUp_FleetLimitsAndALimiterOfTheClassesOwn_FailsSayingOneWouldReplaceTheOther()
    {
        var services = new ServiceCollection();
        services.AddSingleton<IWorkloadFleetLimiterFactory>(new RecordingFactory());
        services.AddWorkloadIsolation(o =>
        {
            o.DefaultClass = "reports";
            o.AddClass("reports", c => c.Fleet = new() { MaxConcurrency = 4 });
        }).AddRateLimiter("Reports", _ => PartitionedRateLimiter.Create<string, string>(key => RateLimitPartition.GetNoLimiter(key)));
        using ServiceProvider provider = services.BuildServiceProvider();

        var failure = Assert.Throws<OptionsValidationException>(() => provider.GetRequiredService<IStartupValidator>().Validate());
        Assert.Contains("Workload class 'reports': has fleet-wide limits and a rate limiter of its own (AddRateLimiter), which would replace them; keep one of the two.", failure.Failures);
    }

    [Fact]
    public void FleetStateMetric_FollowsTheLimitersState()
    {
        var factory = new RecordingFactory();
        using ServiceProvider provider = Services(factory);
        provider.GetRequiredService<IWorkloadScheduler>();
        using var collector = new MetricCollector<int>(provider.GetRequiredService<IMeterFactory>(), WorkloadIsolationTelemetry.MeterName, "bulkhead.fleet.state");

        Assert.Equal(("coordinated", 1), Current(collector));
        factory.Created[^1].State = WorkloadFleetState.LocalShare;
        Assert.Equal(("local_share", 1), Current(collector));
        factory.Created[^1].State = WorkloadFleetState.Closed;
        Assert.Equal(("closed", 1), Current(collector));
        factory.Created[^1].State = WorkloadFleetState.Strict;
        Assert.Equal(("strict", 1), Current(collector));
    }

    /// <summary>The one state measured at 1 for the reports class (the others at 0); nothing for a class without fleet limits.</summary>
    private static (string State, int Value) Current(MetricCollector<int> collector)
    {
        collector.Clear();
        collector.RecordObservableInstruments();
        IReadOnlyList<CollectedMeasurement<int>> measured = collector.GetMeasurementSnapshot();
        Assert.All(measured, m => Assert.Equal("reports", m.Tags["bulkhead.workload_class"]));
        Assert.Equal(Enum.GetValues<WorkloadFleetState>().Length, measured.Count);
        CollectedMeasurement<int> on = Assert.Single(measured, m => m.Value == 1);
        return ((string)on.Tags["bulkhead.fleet.state"]!, on.Value);
    }

    /// <summary>A service collection with the classes of <see cref="Options"/> and a fleet store.</summary>
    private static ServiceProvider Services(IWorkloadFleetLimiterFactory factory)
    {
        var services = new ServiceCollection();
        services.AddSingleton(factory);
        services.AddWorkloadIsolation(o =>
        {
            WorkloadIsolationOptions configured = Options(rate: 5);
            foreach ((string name, WorkloadClassOptions c) in configured.Classes)
            {
                o.Classes[name] = c;
            }

            o.DefaultClass = configured.DefaultClass;
        });
        return services.BuildServiceProvider();
    }

    private static PartitionedRateLimiter<string>? Limiter(WorkloadScheduler scheduler, string name) =>
        scheduler.Engine.Classes.Single(c => c.Name == name).Limits.RateLimiter;

    private static WorkloadIsolationOptions Options(double rate) => new WorkloadIsolationOptions { TotalConcurrency = 8, DefaultClass = "interactive" }
        .AddClass("interactive")
        .AddClass("reports", c =>
        {
            c.Priority = 1;
            c.Fleet = new() { MaxConcurrency = 4, RateLimit = new() { PermitsPerSecond = rate } };
        });

    private sealed class RecordingFactory : IWorkloadFleetLimiterFactory
    {
        public List<RecordingLimiter> Created { get; } = [];

        public PartitionedRateLimiter<string> GetLimiter(string workloadClass, WorkloadClassOptions options, PartitionedRateLimiter<string>? current)
        {
            if (current is RecordingLimiter same && same.Rate.Equals(options.Fleet!.RateLimit!.PermitsPerSecond))
            {
                return same;
            }

            var limiter = new RecordingLimiter(options.Fleet!.RateLimit!.PermitsPerSecond);
            Created.Add(limiter);
            return limiter;
        }
    }

    private sealed class RecordingLimiter(double rate) : PartitionedRateLimiter<string>, IWorkloadFleetLimiter
    {
        public double Rate { get; } = rate;

        public List<string> Asked { get; } = [];

        public int Held;

        public bool Refuse { get; set; }

        public WorkloadFleetState State { get; set; }

        public override RateLimiterStatistics? GetStatistics(string resource) => null;

        protected override RateLimitLease AttemptAcquireCore(string resource, int permitCount) => Answer(resource);

        protected override ValueTask<RateLimitLease> AcquireAsyncCore(string resource, int permitCount, CancellationToken cancellationToken) => new(Answer(resource));

        private Lease Answer(string resource)
        {
            Asked.Add(resource);
            if (Refuse)
            {
                return new Lease(this, acquired: false);
            }

            Interlocked.Increment(ref Held);
            return new Lease(this, acquired: true);
        }

        private sealed class Lease(RecordingLimiter owner, bool acquired) : RateLimitLease
        {
            public override bool IsAcquired => acquired;

            public override IEnumerable<string> MetadataNames => [MetadataName.RetryAfter.Name];

            public override bool TryGetMetadata(string metadataName, out object? metadata)
            {
                metadata = acquired ? null : TimeSpan.FromSeconds(3);
                return !acquired;
            }

            protected override void Dispose(bool disposing)
            {
                if (acquired)
                {
                    Interlocked.Decrement(ref owner.Held);
                }

                base.Dispose(disposing);
            }
        }
    }
}
