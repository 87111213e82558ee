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
