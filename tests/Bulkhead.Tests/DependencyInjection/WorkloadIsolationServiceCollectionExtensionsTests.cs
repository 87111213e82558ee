using System.Text;
using Bulkhead.Admission.Internal;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace Bulkhead.Tests.DependencyInjection;

public sealed class WorkloadIsolationServiceCollectionExtensionsTests
{
    private const string AppSettings = """
        {
          "WorkloadIsolation": {
            "TotalConcurrency": 64,
            "DefaultClass": "interactive",
            "Classes": {
              "interactive": { "Priority": 0, "ReservedConcurrency": 32, "MaxConcurrency": 64, "QueueLimit": 200, "QueueTimeout": "00:00:02" },
              "reporting":   { "Priority": 2, "MaxConcurrency": 8, "QueueLimit": 50, "QueueOrder": "Lifo", "RateLimit": { "PermitsPerSecond": 20, "Burst": 40, "PerPartition": true } },
              "batch":       { "Priority": 3, "ReservedConcurrency": 1, "MaxConcurrency": 4, "QueueLimit": 1000,
                             "Execution": { "DedicatedThreads": 2, "CpuPriority": "Idle" }, "Jobs": { "Capacity": 50, "FullMode": "Reject" } }
            }
          }
        }
        """;

    [Fact]
    public void AddWorkloadIsolation_NoConfiguration_RunsOneDefaultClass()
    {
        using ServiceProvider provider = new ServiceCollection().AddWorkloadIsolation().Services.BuildServiceProvider();

        IWorkloadScheduler scheduler = provider.GetRequiredService<IWorkloadScheduler>();
        using WorkloadLease lease = scheduler.TryAcquire("default");

        Assert.True(lease.IsAcquired);
        WorkloadClassSnapshot only = Assert.Single(scheduler.GetSnapshot().Classes);
        Assert.Equal(("default", 64, 0, 100), (only.Name, only.MaxConcurrency, only.ReservedConcurrency, only.QueueLimit));
    }

    [Fact]
    public void AddWorkloadIsolation_ASectionThatDoesNotExist_FailsStartUpNamingIt()
    {
        // "WorkloadIsolaton" (misspelt) started with one class and no isolation, and said nothing.
        IConfiguration configuration = new ConfigurationBuilder()
            .AddJsonStream(new MemoryStream(Encoding.UTF8.GetBytes(AppSettings)))
            .Build();
        using ServiceProvider provider = new ServiceCollection()
            .AddWorkloadIsolation(configuration.GetSection("WorkloadIsolaton")).Services
            .BuildServiceProvider();

        var failure = Assert.Throws<OptionsValidationException>(() => provider.GetRequiredService<IStartupValidator>().Validate());
        Assert.Contains(failure.Failures, f => f.Contains("'WorkloadIsolaton'", StringComparison.Ordinal) && f.Contains("does not exist", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData(false, "No workload class is configured in the options")]
    [InlineData(true, "No workload class is configured in the configuration section 'WorkloadIsolation'")]
    public void AddWorkloadIsolation_NoClasses_WarnsAtStartUpThatNothingIsIsolated(bool fromSection, string said)
    {
        var logs = new ListLoggerProvider();
        IConfiguration configuration = new ConfigurationBuilder()
            .AddJsonStream(new MemoryStream(Encoding.UTF8.GetBytes("""{ "WorkloadIsolation": { "TotalConcurrency": 8 } }""")))
            .Build();
        var services = new ServiceCollection().AddLogging(l => l.AddProvider(logs));
        _ = fromSection ? services.AddWorkloadIsolation(configuration.GetSection("WorkloadIsolation")) : services.AddWorkloadIsolation();
        using ServiceProvider provider = services.BuildServiceProvider();

        provider.GetRequiredService<IWorkloadScheduler>();

        Assert.Single(logs.Messages, m => m.Level == LogLevel.Warning && m.Message.StartsWith(said, StringComparison.Ordinal));
    }

    [Fact]
    public void Kind_CpuBound_GetsOneLowestThreadPerProcessorAndThatManySeats_UnlessTheClassSetsThem()
    {
        IConfiguration configuration = new ConfigurationBuilder()
            .AddJsonStream(new MemoryStream(Encoding.UTF8.GetBytes("""
                {
                  "WorkloadIsolation": {
                    "DefaultClass": "interactive",
                    "Classes": {
                      "interactive": { "ReservedConcurrency": 8 },
                      "reporting": { "Priority": 2, "Kind": "CpuBound" },
                      "exports":   { "Priority": 3, "Kind": "CpuBound", "MaxConcurrency": 1 },
                      "renders":   { "Priority": 3, "Kind": "CpuBound", "Execution": { "DedicatedThreads": 1, "CpuPriority": "Idle" } },
                      "archives":  { "Priority": 3, "Kind": "CpuBound", "Execution": { "Timeout": "00:01:00" } },
                      "scans":     { "Priority": 3, "Kind": "CpuBound", "Execution": { "CpuPriority": "Idle" } },
                      "indexes":   { "Priority": 3, "Kind": "CpuBound", "Execution": { "DedicatedThreads": 1 } }
                    }
                  }
                }
                """)))
            .Build();
        using ServiceProvider provider = new ServiceCollection()
            .AddWorkloadIsolation(configuration.GetSection("WorkloadIsolation")).Services
            .BuildServiceProvider();

        WorkloadIsolationOptions options = provider.GetRequiredService<IOptions<WorkloadIsolationOptions>>().Value;
        int processors = Environment.ProcessorCount;
        Assert.Equal((processors, WorkloadCpuPriority.Lowest, (int?)processors), Of(options.Classes["reporting"]));
        Assert.Equal((processors, WorkloadCpuPriority.Lowest, (int?)1), Of(options.Classes["exports"]));
        Assert.Equal((1, WorkloadCpuPriority.Idle, (int?)1), Of(options.Classes["renders"]));

        // A timeout says nothing of where work runs: the kind's threads still apply, and the timeout stays.
        Assert.Equal((processors, WorkloadCpuPriority.Lowest, (int?)processors), Of(options.Classes["archives"]));
        Assert.Equal(TimeSpan.FromMinutes(1), options.Classes["archives"].Execution!.Timeout);

        // So does a priority alone (the kind's threads, at that priority), and threads alone (at the kind's priority).
        Assert.Equal((processors, WorkloadCpuPriority.Idle, (int?)processors), Of(options.Classes["scans"]));
        Assert.Equal((1, WorkloadCpuPriority.Lowest, (int?)1), Of(options.Classes["indexes"]));
        Assert.Null(options.Classes["interactive"].Execution);
        Assert.Equal(processors, provider.GetRequiredService<IWorkloadScheduler>().GetSnapshot()["reporting"].MaxConcurrency);

        static (int, WorkloadCpuPriority?, int?) Of(WorkloadClassOptions c) => (c.Execution!.DedicatedThreads, c.Execution.CpuPriority, c.MaxConcurrency);
    }

    [Fact]
    public void AddWorkloadIsolation_FromConfiguration_BindsTheAppSettingsShape()
    {
        IConfiguration configuration = new ConfigurationBuilder()
            .AddJsonStream(new MemoryStream(Encoding.UTF8.GetBytes(AppSettings)))
            .Build();

        using ServiceProvider provider = new ServiceCollection()
            .AddWorkloadIsolation(configuration.GetSection("WorkloadIsolation")).Services
            .BuildServiceProvider();

        WorkloadIsolationOptions options = provider.GetRequiredService<IOptions<WorkloadIsolationOptions>>().Value;
        Assert.Equal(64, options.TotalConcurrency);
        Assert.Equal("interactive", options.DefaultClass);
        Assert.Equal(TimeSpan.FromSeconds(2), options.Classes["interactive"].QueueTimeout);
        Assert.Equal(32, options.Classes["INTERACTIVE"].ReservedConcurrency);
        Assert.Equal(WorkloadQueueOrder.Lifo, options.Classes["Reporting"].QueueOrder);
        Assert.Equal(0, options.Classes["reporting"].ReservedConcurrency);
        Assert.Equal(4, options.Classes["batch"].MaxConcurrency);
        Assert.Equal((20.0, (int?)40, true), (options.Classes["reporting"].RateLimit!.PermitsPerSecond, options.Classes["reporting"].RateLimit!.Burst, options.Classes["reporting"].RateLimit!.PerPartition));
        Assert.Null(options.Classes["batch"].RateLimit);
        Assert.Equal((2, WorkloadCpuPriority.Idle), (options.Classes["batch"].Execution!.DedicatedThreads, options.Classes["batch"].Execution!.CpuPriority));
        Assert.Equal((50, WorkloadJobFullMode.Reject), (options.Classes["batch"].Jobs!.Capacity, options.Classes["batch"].Jobs!.FullMode));
        WorkloadSnapshot snapshot = provider.GetRequiredService<IWorkloadScheduler>().GetSnapshot();
        Assert.Equal(["interactive", "reporting", "batch"], snapshot.Classes.Select(c => c.Name));
    }

    [Fact]
    public void AddWorkloadIsolation_CalledTwice_RegistersOneSchedulerAndOneValidator()
    {
        var services = new ServiceCollection();
        services.AddWorkloadIsolation(o => o.TotalConcurrency = 8);
        services.AddWorkloadIsolation(o => o.AddClass("default", c => c.MaxConcurrency = 2));

        Assert.Single(services, d => d.ServiceType == typeof(IWorkloadScheduler));
        Assert.Single(services, d => d.ServiceType == typeof(IValidateOptions<WorkloadIsolationOptions>));
        using ServiceProvider provider = services.BuildServiceProvider();
        WorkloadClassSnapshot only = Assert.Single(provider.GetRequiredService<IWorkloadScheduler>().GetSnapshot().Classes);
        Assert.Equal(2, only.MaxConcurrency);
    }

    [Fact]
    public void AddWorkloadIsolation_ReturnsBuilderOverTheSameServices()
    {
        var services = new ServiceCollection();

        IWorkloadIsolationBuilder builder = services.AddWorkloadIsolation();

        Assert.Same(services, builder.Services);
    }

    [Fact]
    public void AddWorkloadIsolation_SchedulerIsASingleton()
    {
        using ServiceProvider provider = new ServiceCollection().AddWorkloadIsolation().Services.BuildServiceProvider();

        Assert.Same(provider.GetRequiredService<IWorkloadScheduler>(), provider.GetRequiredService<IWorkloadScheduler>());
    }

    [Fact]
    public async Task AddWorkloadIsolation_TimeProviderRegistered_DrivesQueueTimeouts()
    {
        var time = new FakeTimeProvider();
        using ServiceProvider provider = new ServiceCollection()
            .AddSingleton<TimeProvider>(time)
            .AddWorkloadIsolation(o => o.AddClass("default", c => { c.MaxConcurrency = 1; c.QueueTimeout = TimeSpan.FromSeconds(1); })).Services
            .BuildServiceProvider();
        IWorkloadScheduler scheduler = provider.GetRequiredService<IWorkloadScheduler>();
        using WorkloadLease held = scheduler.TryAcquire("default");
        ValueTask<WorkloadLease> waiting = scheduler.AcquireAsync("default");

        time.Advance(TimeSpan.FromSeconds(1));

        Assert.Equal(WorkloadRejectionReason.QueueTimeout, (await waiting.WithTimeout()).RejectionReason);
    }

    [Fact]
    public async Task HostStart_InvalidConfiguration_FailsWithEveryProblem()
    {
        HostApplicationBuilder builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        builder.Services.AddWorkloadIsolation(o => o
            .AddClass("batch", c => { c.ReservedConcurrency = 8; c.MaxConcurrency = 4; })
            .AddClass("reporting", c => c.MaxConcurrency = 100));
        using IHost host = builder.Build();

        OptionsValidationException exception = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync().WithTimeout());

        Assert.Contains("Workload class 'batch': ReservedConcurrency (8) exceeds MaxConcurrency (4).", exception.Failures);
        Assert.Contains("Workload class 'reporting': MaxConcurrency (100) exceeds TotalConcurrency (64).", exception.Failures);
        Assert.Contains(exception.Failures, f => f.Contains("DefaultClass 'default'", StringComparison.Ordinal));
    }

    [Fact]
    public void AddWorkloadIsolation_NullArguments_Throw()
    {
        var services = new ServiceCollection();

        Assert.Throws<ArgumentNullException>(() => services.AddWorkloadIsolation((Action<WorkloadIsolationOptions>)null!));
        Assert.Throws<ArgumentNullException>(() => services.AddWorkloadIsolation((IConfiguration)null!));
        Assert.Throws<ArgumentNullException>(() => ((IServiceCollection)null!).AddWorkloadIsolation());
    }

    [Fact]
    public void WorkloadScheduler_ResolvedFromDI_IsTheRegisteredEngine()
    {
        using ServiceProvider provider = new ServiceCollection().AddWorkloadIsolation().Services.BuildServiceProvider();

        Assert.Same(provider.GetRequiredService<WorkloadScheduler>(), provider.GetRequiredService<IWorkloadScheduler>());
    }
}
