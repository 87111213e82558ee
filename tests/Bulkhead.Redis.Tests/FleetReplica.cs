using Bulkhead.Redis.Internal;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Bulkhead.Redis.Tests;

/// <summary>One replica of a service: its own service provider, scheduler and Redis connection.</summary>
internal sealed class FleetReplica : IAsyncDisposable
{
    private readonly ServiceProvider _services;
    private bool _abandoned;

    public FleetReplica(string redis, Action<WorkloadIsolationOptions> isolation, Action<RedisFleetOptions>? fleet = null)
    {
        var services = new ServiceCollection();
        services.AddLogging(logging => logging.AddProvider(Logs).SetMinimumLevel(LogLevel.Debug));
        services.AddWorkloadIsolation(o =>
        {
            isolation(o);
            o.DefaultClass = o.Classes.Keys.First();
        }).AddRedisFleetLimits(options =>
        {
            options.Configuration = redis;

            // Loopback answers in microseconds, but a test host on a busy machine can stall for longer than the default
            // 250 ms: an operation taking that long here is a slow machine, not the outage a test makes on purpose
            // (a killed server, a cut proxy), which fails at once. Tests of slowness set their own.
            options.OperationTimeout = TimeSpan.FromSeconds(2);
            fleet?.Invoke(options);
        });
        _services = services.BuildServiceProvider();
        Scheduler = _services.GetRequiredService<IWorkloadScheduler>();
        Meters = _services.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>();
        Store = _services.GetRequiredService<RedisFleetStore>();
    }

    public ListLoggerProvider Logs { get; } = new();

    /// <summary>Runs <paramref name="test"/> on <paramref name="count"/> replicas of one configuration, and disposes them however it ends.</summary>
    public static async Task WithReplicasAsync(int count, string redis, Action<WorkloadIsolationOptions> isolation, Action<RedisFleetOptions>? fleet, Func<FleetReplica[], Task> test)
    {
        FleetReplica[] replicas = [.. Enumerable.Range(0, count).Select(_ => new FleetReplica(redis, isolation, fleet))];
        try
        {
            await test(replicas);
        }
        finally
        {
            foreach (FleetReplica replica in replicas)
            {
                await replica.DisposeAsync();
            }
        }
    }

    public IWorkloadScheduler Scheduler { get; }

    public System.Diagnostics.Metrics.IMeterFactory Meters { get; }

    public RedisFleetStore Store { get; }

    public WorkloadFleetState? FleetState(string workloadClass) =>
        Scheduler.GetSnapshot().Classes.Single(c => c.Name == workloadClass).FleetState;

    /// <summary>Stops as a crashed process would: nothing given back, no lease renewed.</summary>
    public async Task CrashAsync()
    {
        _abandoned = true;
        await Store.AbandonAsync();
    }

    public async ValueTask DisposeAsync()
    {
        if (!_abandoned)
        {
            await _services.DisposeAsync();
        }
    }
}
