using Bulkhead.Jobs.Internal;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Bulkhead.Tests.Jobs;

public sealed class WorkloadHostedServiceTests
{
    [Fact]
    public async Task WrappedBackgroundService_HoldsASeatWhileRunningAndFreesItOnStop()
    {
        using IHost host = Build(b => b.AddHostedService<GatedService>("batch"));
        IWorkloadScheduler scheduler = host.Services.GetRequiredService<IWorkloadScheduler>();
        GatedService service = host.Services.GetRequiredService<GatedService>();

        await host.StartAsync().WithTimeout();
        await service.Running.WithTimeout();
        Assert.Equal(1, scheduler.GetSnapshot()["batch"].InFlight);
        await host.StopAsync().WithTimeout();

        Assert.True(service.SawStopping);
        Assert.Equal(0, scheduler.GetSnapshot()["batch"].InFlight);

        // Its code runs for a unit of work of its class: calls it makes through a propagating client say "batch".
        Assert.Equal("batch", service.RunsFor);
    }

    [Fact]
    public async Task WrappedServices_ClassMaxConcurrencyBoundsHowManyRunAtOnce()
    {
        using IHost host = Build(b => b.AddHostedService<FirstJob>("batch").AddHostedService<SecondJob>("batch"), maxBatch: 1);
        IWorkloadScheduler scheduler = host.Services.GetRequiredService<IWorkloadScheduler>();
        FirstJob first = host.Services.GetRequiredService<FirstJob>();
        SecondJob second = host.Services.GetRequiredService<SecondJob>();

        await host.StartAsync().WithTimeout();
        Task firstOrSecond = await Task.WhenAny(first.Running, second.Running).WithTimeout();
        GatedService running = firstOrSecond == first.Running ? first : second;
        GatedService waiting = running == first ? second : first;
        await Eventually.TrueAsync(() => scheduler.GetSnapshot()["batch"].Queued == 1, "the second service waits for the seat");
        Assert.False(waiting.Running.IsCompleted);

        running.Finish();
        await waiting.Running.WithTimeout();
        Assert.Equal(1, scheduler.GetSnapshot()["batch"].InFlight);
        await host.StopAsync().WithTimeout();
    }

    [Fact]
    public async Task WrappedService_FailsWithIgnoreBehavior_HostKeepsRunningAndSeatIsFreed()
    {
        using IHost host = Build(b => b.AddHostedService<FailingService>("batch"), behavior: BackgroundServiceExceptionBehavior.Ignore);
        IWorkloadScheduler scheduler = host.Services.GetRequiredService<IWorkloadScheduler>();
        IHostApplicationLifetime lifetime = host.Services.GetRequiredService<IHostApplicationLifetime>();

        await host.StartAsync().WithTimeout();
        await host.Services.GetRequiredService<FailingService>().Failed.WithTimeout();
        await Eventually.TrueAsync(() => scheduler.GetSnapshot()["batch"].InFlight == 0, "the failed service's seat is free");

        Assert.False(lifetime.ApplicationStopping.IsCancellationRequested);
        await host.StopAsync().WithTimeout();
    }

    [Fact]
    public async Task WrappedService_FailsWithStopHostBehavior_StopsTheHost()
    {
        using IHost host = Build(b => b.AddHostedService<FailingService>("batch"), behavior: BackgroundServiceExceptionBehavior.StopHost);
        IHostApplicationLifetime lifetime = host.Services.GetRequiredService<IHostApplicationLifetime>();
        var stopping = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        lifetime.ApplicationStopping.Register(() => stopping.TrySetResult());

        await host.StartAsync().WithTimeout();

        await stopping.Task.WithTimeout();
        await host.StopAsync().WithTimeout();
    }

    [Fact]
    public async Task WrappedService_ClassWithDedicatedThreads_RunsOnThem()
    {
        using IHost host = Build(b => b.AddHostedService<GatedService>("batch"), dedicatedThreads: 1);
        GatedService service = host.Services.GetRequiredService<GatedService>();

        await host.StartAsync().WithTimeout();
        await service.Running.WithTimeout();

        Assert.Equal("Bulkhead batch #1", service.ThreadName);
        await host.StopAsync().WithTimeout();
    }

    [Fact]
    public async Task WrappedService_InAClassThatIsNotConfigured_FailsStartUpNamingServiceAndClass()
    {
        using IHost host = Build(b => b.AddHostedService<GatedService>("reportng"));

        var failure = await Assert.ThrowsAsync<Microsoft.Extensions.Options.OptionsValidationException>(() => host.StartAsync().WithTimeout());

        Assert.Contains("Hosted service GatedService runs in workload class 'reportng', which is not configured (configured: 'interactive', 'batch').", failure.Message, StringComparison.Ordinal);
        Assert.False(host.Services.GetRequiredService<GatedService>().Running.IsCompleted);
    }

    [Fact]
    public void WrappedService_RegisteredForTwoClasses_ThrowsNamingBoth()
    {
        IWorkloadIsolationBuilder builder = new ServiceCollection().AddWorkloadIsolation().AddHostedService<GatedService>("batch");

        var failure = Assert.Throws<InvalidOperationException>(() => builder.AddHostedService<GatedService>("interactive"));

        Assert.Contains("'batch'", failure.Message, StringComparison.Ordinal);
        Assert.Contains("'interactive'", failure.Message, StringComparison.Ordinal);
        builder.AddHostedService<GatedService>("Batch");
        Assert.Single(builder.Services, d => d.ImplementationInstance is WorkloadHostedServiceRegistration<GatedService>);
    }

    private static IHost Build(
        Action<IWorkloadIsolationBuilder> register,
        int maxBatch = 4,
        BackgroundServiceExceptionBehavior behavior = BackgroundServiceExceptionBehavior.Ignore,
        int dedicatedThreads = 0)
    {
        HostApplicationBuilder builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        builder.Services.Configure<HostOptions>(o => o.BackgroundServiceExceptionBehavior = behavior);
        register(builder.Services.AddWorkloadIsolation(o =>
        {
            o.TotalConcurrency = 4;
            o.DefaultClass = "interactive";
            o.AddClass("interactive", c => c.ReservedConcurrency = 1);
            o.AddClass("batch", c =>
            {
                c.Priority = 3;
                c.MaxConcurrency = maxBatch;
                c.QueueTimeout = Timeout.InfiniteTimeSpan;
                c.Execution = dedicatedThreads > 0 ? new WorkloadExecutionOptions { DedicatedThreads = dedicatedThreads } : null;
            });
        }));
        return builder.Build();
    }

    internal class GatedService : BackgroundService
    {
        private readonly TaskCompletionSource _running = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly TaskCompletionSource _finish = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Task Running => _running.Task;

        public bool SawStopping { get; private set; }

        public string? ThreadName { get; private set; }

        public string? RunsFor { get; private set; }

        public void Finish() => _finish.TrySetResult();

        protected override async Task ExecuteAsync(CancellationToken stoppingToken)
        {
            ThreadName = Thread.CurrentThread.Name;
            RunsFor = WorkloadContext.Current?.WorkloadClass;
            _running.TrySetResult();
            try
            {
                await _finish.Task.WaitAsync(stoppingToken);
            }
            catch (OperationCanceledException)
            {
                SawStopping = true;
            }
        }
    }

    internal sealed class FirstJob : GatedService;

    internal sealed class SecondJob : GatedService;

    internal sealed class FailingService : BackgroundService
    {
        private readonly TaskCompletionSource _failed = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Task Failed => _failed.Task;

        protected override async Task ExecuteAsync(CancellationToken stoppingToken)
        {
            await Task.Yield();
            _failed.TrySetResult();
            throw new InvalidOperationException("the job failed");
        }
    }
}
