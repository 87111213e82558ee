using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Bulkhead.Tests.DependencyInjection;

/// <summary>A user's decorator of <see cref="IWorkloadScheduler"/> sees every seat the background front ends take.</summary>
public sealed class DecoratedSchedulerTests
{
    [Fact]
    public async Task JobQueue_DecoratedScheduler_TakesItsSeatsThroughTheDecorator()
    {
        var services = new ServiceCollection().AddLogging();
        services.AddWorkloadIsolation(o => o.AddClass("default").AddClass("batch"));
        CountingScheduler.Decorate(services);
        await using ServiceProvider provider = services.BuildServiceProvider();
        IWorkloadJobQueue jobs = provider.GetRequiredService<IWorkloadJobQueue>();
        var ran = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

        await jobs.EnqueueAsync("batch", _ => { ran.SetResult(); return ValueTask.CompletedTask; }).AsTask().WithTimeout();

        await ran.Task.WithTimeout();
        Assert.Equal(1, provider.GetRequiredService<CountingScheduler>().Acquired);
    }

    /// <summary>A decorator overrides the two request members and sees every shape of request: by partition, weight, cost key, background.</summary>
    [Fact]
    public async Task Decorator_SeesEveryShapeOfRequestThroughItsTwoMembers()
    {
        var services = new ServiceCollection();
        services.AddWorkloadIsolation(o => o.AddClass("default").AddClass("batch"));
        CountingScheduler.Decorate(services);
        await using ServiceProvider provider = services.BuildServiceProvider();
        CountingScheduler counting = provider.GetRequiredService<CountingScheduler>();
        WorkloadClass batch = counting.GetClass("batch");

        using (WorkloadLease one = batch.TryAcquire("tenant"))
        using (WorkloadLease waited = await batch.AcquireAsync("tenant"))
        using (WorkloadLease wide = batch.TryAcquire(new WorkloadRequest { Weight = 2 }))
        using (WorkloadLease keyed = await batch.AcquireAsync(new WorkloadRequest { CostKey = "export" }))
        using (WorkloadLease background = await batch.AcquireAsync(new WorkloadRequest { Background = true }))
        {
            Assert.True(one.IsAcquired && waited.IsAcquired && wide.IsAcquired && keyed.IsAcquired && background.IsAcquired);
            Assert.Equal(6, counting.GetSnapshot()["batch"].InFlight);
        }

        Assert.Equal(5, counting.Acquired);
    }

    /// <summary>
    /// The job queue asks through the handle it is given, so a decorated class refuses an item wider than it can ever
    /// seat where it is queued, and learns what its job types cost, as the undecorated class does.
    /// </summary>
    [Fact]
    public async Task JobQueue_DecoratedScheduler_RefusesTooWideItemsWhereQueued_AndLearnsJobCosts()
    {
        var services = new ServiceCollection().AddLogging();
        services.AddWorkloadIsolation(o => o
            .AddClass("default")
            .AddClass("batch", c =>
            {
                c.MaxConcurrency = 2;
                c.LearnedWeight = new WorkloadLearnedWeightOptions { SeatTime = TimeSpan.FromMilliseconds(10), MaxWeight = 2 };
            }));
        CountingScheduler.Decorate(services);
        await using ServiceProvider provider = services.BuildServiceProvider();
        IWorkloadJobQueue jobs = provider.GetRequiredService<IWorkloadJobQueue>();
        IWorkloadScheduler scheduler = provider.GetRequiredService<IWorkloadScheduler>();

        WorkloadRejectedException refused = await Assert.ThrowsAsync<WorkloadRejectedException>(
            () => jobs.EnqueueAsync("batch", _ => ValueTask.CompletedTask, weight: 3).AsTask()).WithTimeout();
        Assert.Equal(WorkloadRejectionReason.WeightTooLarge, refused.Reason);
        Assert.Equal(1, scheduler.GetSnapshot()["batch"].RejectedByReason[WorkloadRejectionReason.WeightTooLarge]);

        var ran = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await jobs.EnqueueAsync("batch", _ => { ran.SetResult(); return ValueTask.CompletedTask; }).AsTask().WithTimeout();
        await ran.Task.WithTimeout();

        // The seat is freed (and the job's cost recorded) once the item has ended.
        await Eventually.TrueAsync(() => scheduler.GetSnapshot()["batch"].LearnedWeights.Count == 1, "the job's cost is learned");
        Assert.Contains(nameof(JobQueue_DecoratedScheduler_RefusesTooWideItemsWhereQueued_AndLearnsJobCosts), scheduler.GetSnapshot()["batch"].LearnedWeights.Single().CostKey, StringComparison.Ordinal);
    }

    [Fact]
    public async Task HostedService_DecoratedScheduler_TakesItsSeatThroughTheDecorator()
    {
        HostApplicationBuilder builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        builder.Services.AddWorkloadIsolation(o => o.AddClass("default").AddClass("batch")).AddHostedService<OneShot>("batch");
        CountingScheduler.Decorate(builder.Services);
        using IHost host = builder.Build();

        await host.StartAsync().WithTimeout();
        await host.Services.GetRequiredService<OneShot>().Ran.WithTimeout();
        await host.StopAsync().WithTimeout();

        Assert.Equal(1, host.Services.GetRequiredService<CountingScheduler>().Acquired);
    }

    private sealed class OneShot : BackgroundService
    {
        private readonly TaskCompletionSource _ran = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Task Ran => _ran.Task;

        protected override Task ExecuteAsync(CancellationToken stoppingToken)
        {
            _ran.TrySetResult();
            return Task.CompletedTask;
        }
    }
}
