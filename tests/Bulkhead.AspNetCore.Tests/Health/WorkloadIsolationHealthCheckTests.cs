using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Time.Testing;

namespace Bulkhead.AspNetCore.Tests.Health;

/// <summary>The health check's states on fake time: Healthy, Degraded by a long wait or a rejection, Unhealthy when rejections go on.</summary>
public sealed class WorkloadIsolationHealthCheckTests : IAsyncDisposable
{
    private readonly FakeTimeProvider _time = new();
    private readonly ServiceProvider _services;

    public WorkloadIsolationHealthCheckTests()
    {
        var services = new ServiceCollection().AddLogging();
        services.AddSingleton<TimeProvider>(_time);
        services.AddWorkloadIsolation(o =>
        {
            o.TotalConcurrency = 2;
            o.DefaultClass = "interactive";
            o.AddClass("interactive", c => { c.MaxConcurrency = 1; c.QueueLimit = 1; c.QueueTimeout = Timeout.InfiniteTimeSpan; });
            o.AddClass("batch", c => c.Priority = 3);
        });
        services.AddHealthChecks().AddWorkloadIsolation(o =>
        {
            o.MaxWaiterAge = TimeSpan.FromSeconds(1);
            o.Window = TimeSpan.FromSeconds(30);
            o.UnhealthyAfter = TimeSpan.FromMinutes(1);
        });
        _services = services.BuildServiceProvider();
    }

    [Fact]
    public async Task States_FollowWaitsAndRejectionsOfTheMostImportantClass()
    {
        IWorkloadScheduler scheduler = _services.GetRequiredService<IWorkloadScheduler>();
        Assert.Equal(HealthStatus.Healthy, (await CheckAsync()).Status);

        // A waiter older than a second: Degraded.
        WorkloadLease held = scheduler.TryAcquire("interactive");
        Task<WorkloadLease> waiting = scheduler.AcquireAsync("interactive").AsTask();
        _time.Advance(TimeSpan.FromSeconds(2));
        HealthReport waited = await CheckAsync();
        Assert.Equal(HealthStatus.Degraded, waited.Status);
        Assert.Contains("waited", waited.Entries["workload-isolation"].Description, StringComparison.Ordinal);

        // A rejection: Degraded for a window; rejections every window for a minute: Unhealthy.
        for (int i = 0; i < 7; i++)
        {
            Assert.False(scheduler.TryAcquire("interactive").IsAcquired);
            HealthReport report = await CheckAsync();
            Assert.Equal(i < 6 ? HealthStatus.Degraded : HealthStatus.Unhealthy, report.Status);
            _time.Advance(TimeSpan.FromSeconds(10));
        }

        // Rejections stop: after a window without any, back to Healthy once nothing waits.
        held.Dispose();
        (await waiting.WithTimeout()).Dispose();
        _time.Advance(TimeSpan.FromSeconds(31));
        await CheckAsync();
        _time.Advance(TimeSpan.FromSeconds(31));
        HealthReport recovered = await CheckAsync();
        Assert.Equal(HealthStatus.Healthy, recovered.Status);
        Assert.Equal("interactive", recovered.Entries["workload-isolation"].Data["workloadClass"]);
    }

    [Fact]
    public async Task ProtectedClassNotConfigured_IsUnhealthyNamingIt()
    {
        var services = new ServiceCollection().AddLogging();
        services.AddWorkloadIsolation(o => o.AddClass("interactive").DefaultClass = "interactive");
        services.AddHealthChecks().AddWorkloadIsolation(o => o.ProtectedClass = "checkout");
        await using ServiceProvider provider = services.BuildServiceProvider();

        HealthReport report = await provider.GetRequiredService<HealthCheckService>().CheckHealthAsync();

        Assert.Equal(HealthStatus.Unhealthy, report.Status);
        Assert.Contains("'checkout'", report.Entries["workload-isolation"].Description, StringComparison.Ordinal);
    }

    public ValueTask DisposeAsync() => _services.DisposeAsync();

    private Task<HealthReport> CheckAsync() => _services.GetRequiredService<HealthCheckService>().CheckHealthAsync();
}
