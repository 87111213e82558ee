using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Bulkhead.Tests.DependencyInjection;

/// <summary>WorkloadIsolation follows its configuration as it reloads; an invalid one is rejected whole.</summary>
public sealed class ConfigurationReloadTests : IDisposable
{
    private readonly ListLoggerProvider _logs = new();
    private readonly string _directory = Directory.CreateTempSubdirectory("bulkhead-reload-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public void Reload_ValidChange_PutsTheNewLimitsInForceAndTellsListeners()
    {
        IConfigurationRoot configuration = Memory(("TotalConcurrency", "8"), ("DefaultClass", "interactive"), ("Classes:interactive:MaxConcurrency", "8"), ("Classes:batch:MaxConcurrency", "2"));
        using ServiceProvider services = Build(configuration);
        IWorkloadScheduler scheduler = services.GetRequiredService<IWorkloadScheduler>();
        IWorkloadIsolationMonitor monitor = services.GetRequiredService<IWorkloadIsolationMonitor>();
        List<int> seen = [];
        using IDisposable listening = monitor.OnChange(o => seen.Add(o.Classes["batch"].MaxConcurrency ?? 0));

        configuration["WorkloadIsolation:Classes:batch:MaxConcurrency"] = "5";
        configuration["WorkloadIsolation:Classes:reporting:Priority"] = "2";
        configuration.Reload();

        Assert.Equal(5, scheduler.GetSnapshot()["batch"].MaxConcurrency);
        Assert.Equal(2, scheduler.GetSnapshot()["reporting"].Priority);
        Assert.Equal([5], seen);
        Assert.Equal(5, monitor.CurrentValue.Classes["batch"].MaxConcurrency);
        Assert.Contains(_logs.Messages, m => m.Level == LogLevel.Information && m.Message.Contains("configuration applied", StringComparison.Ordinal));
    }

    [Fact]
    public void Reload_InvalidChange_IsRejectedWholeWithEveryProblemLoggedAndTheOldConfigurationStays()
    {
        IConfigurationRoot configuration = Memory(("TotalConcurrency", "8"), ("DefaultClass", "interactive"), ("Classes:interactive:MaxConcurrency", "8"), ("Classes:batch:MaxConcurrency", "2"));
        using ServiceProvider services = Build(configuration);
        IWorkloadScheduler scheduler = services.GetRequiredService<IWorkloadScheduler>();
        IWorkloadIsolationMonitor monitor = services.GetRequiredService<IWorkloadIsolationMonitor>();
        WorkloadIsolationOptions before = monitor.CurrentValue;

        // One valid change beside two invalid ones: nothing of it may apply.
        configuration["WorkloadIsolation:Classes:batch:MaxConcurrency"] = "3";
        configuration["WorkloadIsolation:Classes:batch:ReservedConcurrency"] = "4";
        configuration["WorkloadIsolation:Classes:reporting:MaxConcurrency"] = "100";
        configuration.Reload();

        Assert.Same(before, monitor.CurrentValue);
        Assert.Equal(2, scheduler.GetSnapshot()["batch"].MaxConcurrency);
        Assert.DoesNotContain(scheduler.GetSnapshot().Classes, c => c.Name == "reporting");
        (LogLevel level, string message) = Assert.Single(_logs.Messages, m => m.Level == LogLevel.Error);
        Assert.Contains("2 problem(s)", message, StringComparison.Ordinal);
        Assert.Contains("Workload class 'batch': ReservedConcurrency (4) exceeds MaxConcurrency (3).", message, StringComparison.Ordinal);
        Assert.Contains("Workload class 'reporting': MaxConcurrency (100) exceeds TotalConcurrency (8).", message, StringComparison.Ordinal);

        configuration["WorkloadIsolation:Classes:batch:ReservedConcurrency"] = "1";
        configuration["WorkloadIsolation:Classes:reporting:MaxConcurrency"] = "4";
        configuration.Reload();
        Assert.Equal(3, scheduler.GetSnapshot()["batch"].MaxConcurrency);
        Assert.Equal(4, scheduler.GetSnapshot()["reporting"].MaxConcurrency);
    }

    [Fact]
    public void Reload_UnreadableValue_IsRejectedAndTheOldConfigurationStays()
    {
        IConfigurationRoot configuration = Memory(("TotalConcurrency", "8"), ("DefaultClass", "batch"), ("Classes:batch:MaxConcurrency", "2"));
        using ServiceProvider services = Build(configuration);
        IWorkloadScheduler scheduler = services.GetRequiredService<IWorkloadScheduler>();

        configuration["WorkloadIsolation:TotalConcurrency"] = "lots";
        configuration.Reload();

        Assert.Equal(2, scheduler.GetSnapshot()["batch"].MaxConcurrency);
        Assert.Contains(_logs.Messages, m => m.Level == LogLevel.Error && m.Message.Contains("lots", StringComparison.Ordinal));
    }

    [Fact]
    public void Reload_ConfigureStepThrows_IsLoggedAndTheOldConfigurationStays()
    {
        IConfigurationRoot configuration = Memory(("TotalConcurrency", "8"), ("DefaultClass", "batch"), ("Classes:batch:MaxConcurrency", "2"));
        int calls = 0;
        using ServiceProvider provider = Build(configuration, services => services.PostConfigure<WorkloadIsolationOptions>(_ =>
        {
            if (++calls > 1)
            {
                throw new NotSupportedException("a configure step failed");
            }
        }));
        IWorkloadScheduler scheduler = provider.GetRequiredService<IWorkloadScheduler>();

        configuration["WorkloadIsolation:Classes:batch:MaxConcurrency"] = "3";
        configuration.Reload();

        Assert.Equal(2, scheduler.GetSnapshot()["batch"].MaxConcurrency);
        Assert.Contains(_logs.Messages, m => m.Level == LogLevel.Error && m.Message.Contains("building the new one failed", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Reload_AppSettingsFileWithReloadOnChange_AppliesTheEditWhileTheHostRuns()
    {
        string path = Path.Combine(_directory, "appsettings.json");
        await File.WriteAllTextAsync(path, Json(maxBatch: 1));
        HostApplicationBuilder builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings { ContentRootPath = _directory });
        builder.Configuration.AddJsonFile(path, optional: false, reloadOnChange: true);
        builder.Logging.AddProvider(_logs);
        builder.Services.AddWorkloadIsolation(builder.Configuration.GetSection("WorkloadIsolation"));
        using IHost host = builder.Build();
        await host.StartAsync().WithTimeout();
        IWorkloadScheduler scheduler = host.Services.GetRequiredService<IWorkloadScheduler>();
        using WorkloadLease held = scheduler.TryAcquire("batch");
        Task<WorkloadLease> waiting = scheduler.AcquireAsync("batch").AsTask();
        Assert.False(waiting.IsCompleted);

        await File.WriteAllTextAsync(path, Json(maxBatch: 2));

        using WorkloadLease admitted = await waiting.WithTimeout();
        Assert.True(admitted.IsAcquired);
        Assert.Equal(2, scheduler.GetSnapshot()["batch"].MaxConcurrency);

        // An invalid edit leaves the host running on the configuration in force.
        await File.WriteAllTextAsync(path, Json(maxBatch: 100));
        await Eventually.TrueAsync(() => _logs.Messages.Any(m => m.Level == LogLevel.Error), "the invalid edit is logged");
        Assert.Equal(2, scheduler.GetSnapshot()["batch"].MaxConcurrency);
        await host.StopAsync().WithTimeout();

        static string Json(int maxBatch) => $$"""
            { "WorkloadIsolation": { "TotalConcurrency": 4, "DefaultClass": "batch", "Classes": { "batch": { "MaxConcurrency": {{maxBatch}} } } } }
            """;
    }

    private static IConfigurationRoot Memory(params (string Key, string Value)[] values) =>
        new ConfigurationBuilder()
            .AddInMemoryCollection(values.Select(v => new KeyValuePair<string, string?>("WorkloadIsolation:" + v.Key, v.Value)))
            .Build();

    private ServiceProvider Build(IConfiguration configuration, Action<IServiceCollection>? more = null)
    {
        var services = new ServiceCollection().AddLogging(l => l.AddProvider(_logs));
        services.AddWorkloadIsolation(configuration.GetSection("WorkloadIsolation"));
        more?.Invoke(services);
        return services.BuildServiceProvider();
    }
}
