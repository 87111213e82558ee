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

    /// <summary>
    /// A decorator written before weights (it overrides only the one-seat overloads): weight 1 and cost keys go through
    /// its own overloads, and a wider unit is refused with a clear exception rather than taken as one seat.
    /// </summary>
    [Fact]
    public async Task DecoratorWithoutWeights_TakesOneSeatThroughItsOwnOverloads_AndRefusesWiderUnits()
    {
        var services = new ServiceCollection();
        services.AddWorkloadIsolation(o => o.AddClass("default").AddClass("batch"));
        CountingScheduler.Decorate(services);
        await using ServiceProvider provider = services.BuildServiceProvider();
        CountingScheduler counting = provider.GetRequiredService<CountingScheduler>();
        WorkloadClass batch = counting.GetClass("batch");

        using (WorkloadLease one = batch.TryAcquire(null, weight: 1))
        using (WorkloadLease keyed = await batch.AcquireAsync(null, "export"))
        using (WorkloadLease background = await batch.WaitForSeatAsync(null, weight: 1))
        {
            Assert.True(one.IsAcquired && keyed.IsAcquired && background.IsAcquired);
        }

        Assert.Equal(3, counting.Acquired);
        NotSupportedException refused = Assert.Throws<NotSupportedException>(() => batch.TryAcquire(null, weight: 2));
        Assert.Contains("batch", refused.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentOutOfRangeException>(() => batch.TryAcquire(null, weight: 0));
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
