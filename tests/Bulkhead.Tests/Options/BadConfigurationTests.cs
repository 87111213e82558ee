using System.Text;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Bulkhead.Tests.Options;

/// <summary>
/// Configurations as users write them in appsettings.json, each wrong in one way: start-up fails with a message naming
/// the class and the field, and a reload to it keeps the configuration in force.
/// </summary>
public sealed class BadConfigurationTests
{
    private const string Good = """
        { "TotalConcurrency": 16, "DefaultClass": "interactive",
          "Classes": { "interactive": { "ReservedConcurrency": 4 }, "reporting": { "Priority": 2, "MaxConcurrency": 4 } } }
        """;

    public static TheoryData<string, string, string[]> Cases => new()
    {
        // Values the binder cannot read: it drops the whole class, or the only class, without a word.
        { "unreadable time span", Reporting("\"QueueTimeout\": \"00:00:3O\""), ["Workload class 'reporting': QueueTimeout ('00:00:3O') is not a time span"] },
        { "unknown CPU priority", Reporting("\"Execution\": { \"DedicatedThreads\": 1, \"CpuPriority\": \"Turbo\" }"), ["Workload class 'reporting': Execution: CpuPriority ('Turbo') is not one of Normal, BelowNormal, Lowest, Idle."] },
        { "words for a number", Reporting("\"MaxConcurrency\": \"lots\""), ["Workload class 'reporting': MaxConcurrency ('lots') is not a whole number."] },
        { "the only class unreadable", """{ "DefaultClass": "batch", "Classes": { "batch": { "MaxConcurrency": "lots" } } }""", ["Workload class 'batch': MaxConcurrency ('lots')"] },
        { "words for the total", """{ "TotalConcurrency": "lots" }""", ["WorkloadIsolation: TotalConcurrency ('lots') is not a whole number."] },
        { "a number too large", """{ "TotalConcurrency": 99999999999 }""", ["WorkloadIsolation: TotalConcurrency ('99999999999') is too large"] },
        { "words for a rate", Reporting("\"RateLimit\": { \"PermitsPerSecond\": \"fast\" }"), ["Workload class 'reporting': RateLimit: PermitsPerSecond ('fast') is not a number"] },
        { "words for a flag", Reporting("\"RateLimit\": { \"PermitsPerSecond\": 5, \"PerPartition\": \"yes\" }"), ["Workload class 'reporting': RateLimit: PerPartition ('yes') is not true or false."] },
        { "words for threads", Reporting("\"Execution\": { \"DedicatedThreads\": \"two\" }"), ["Workload class 'reporting': Execution: DedicatedThreads ('two') is not a whole number."] },
        { "unknown queue order", Reporting("\"QueueOrder\": \"Random\""), ["Workload class 'reporting': QueueOrder ('Random') is not one of Fifo, Lifo."] },
        { "unknown full mode", Reporting("\"Jobs\": { \"FullMode\": \"Explode\" }"), ["Workload class 'reporting': Jobs: FullMode ('Explode') is not one of"] },
        { "unreadable execution timeout", Reporting("\"Execution\": { \"Timeout\": \"soon\" }"), ["Workload class 'reporting': Execution: Timeout ('soon') is not a time span"] },

        // Time spans written as bare numbers mean days.
        { "queue timeout of five days", Reporting("\"QueueTimeout\": 5"), ["Workload class 'reporting': QueueTimeout ('5') is not a time span", "days"] },
        { "execution timeout of ten days", Reporting("\"Execution\": { \"Timeout\": \"10\" }"), ["Workload class 'reporting': Execution: Timeout ('10') is not a time span"] },

        // Misspelt or unknown settings.
        { "misspelt class setting", Reporting("\"MaxConcurency\": 4"), ["Workload class 'reporting': 'MaxConcurency' is not a setting; did you mean 'MaxConcurrency'?"] },
        { "misspelt top-level setting", """{ "TotalConcurency": 8 }""", ["WorkloadIsolation: 'TotalConcurency' is not a setting; did you mean 'TotalConcurrency'?"] },
        { "misspelt rate setting", Reporting("\"RateLimit\": { \"PermitsPerSec\": 5 }"), ["Workload class 'reporting': RateLimit: 'PermitsPerSec' is not a setting; did you mean 'PermitsPerSecond'?"] },
        { "misspelt job setting", Reporting("\"Jobs\": { \"Capacty\": 5 }"), ["Workload class 'reporting': Jobs: 'Capacty' is not a setting; did you mean 'Capacity'?"] },
        { "setting from elsewhere", Reporting("\"Timeout\": \"00:00:05\""), ["Workload class 'reporting': 'Timeout' is not a setting"] },

        // Bulkhead.AspNetCore's settings in the same section: where they live now (checked there, when the pipeline is built).
        { "rules at the top", """{ "Rules": [ { "PathPrefix": "/reports", "Class": "interactive" } ] }""", ["WorkloadIsolation: 'Rules' is not a setting here; it is 'Http:Rules'."] },
        { "trusted headers at the top", """{ "TrustedHeaders": [ "X-Gateway" ] }""", ["WorkloadIsolation: 'TrustedHeaders' is not a setting here; it is 'Http:TrustedHeaders'."] },
        { "http settings as a value", """{ "Http": "on" }""", ["WorkloadIsolation: Http ('on') must be an object of settings"] },

        // Shapes.
        { "classes as a list", """{ "DefaultClass": "a", "Classes": [ { "MaxConcurrency": 2 } ] }""", ["WorkloadIsolation: Classes is a list; it must be an object keyed by class name"] },
        { "a class as a value", """{ "DefaultClass": "interactive", "Classes": { "interactive": { }, "reporting": "fast" } }""", ["Workload class 'reporting': ('fast') must be an object of settings"] },
        { "execution as a value", Reporting("\"Execution\": \"dedicated\""), ["Workload class 'reporting': Execution ('dedicated') must be an object of settings"] },
        { "a number as an object", Reporting("\"MaxConcurrency\": { \"Value\": 4 }"), ["Workload class 'reporting': MaxConcurrency must be a value"] },

        // A rate limit without a rate.
        { "empty rate limit", Reporting("\"RateLimit\": { }"), ["Workload class 'reporting': RateLimit: PermitsPerSecond is required."] },
        { "rate limit with a burst only", Reporting("\"RateLimit\": { \"Burst\": 5 }"), ["Workload class 'reporting': RateLimit: PermitsPerSecond is required."] },

        // Values out of range, each named.
        { "no seats", """{ "TotalConcurrency": 0 }""", ["WorkloadIsolation: TotalConcurrency (0) is out of range."] },
        { "negative seats, reported once", """{ "TotalConcurrency": -1, "DefaultClass": "a", "Classes": { "a": { "ReservedConcurrency": 2 } } }""", ["WorkloadIsolation: TotalConcurrency (-1) is out of range."] },
        { "empty default class", """{ "DefaultClass": "" }""", ["WorkloadIsolation: DefaultClass is empty; it is required."] },
        { "default class not configured", """{ "DefaultClass": "nope", "Classes": { "a": { } } }""", ["WorkloadIsolation: DefaultClass 'nope' is not a configured class (configured: 'a')."] },
        { "negative priority", Reporting("\"Priority\": -1"), ["Workload class 'reporting': Priority (-1) is out of range."] },
        { "negative queue limit", Reporting("\"QueueLimit\": -5"), ["Workload class 'reporting': QueueLimit (-5) is out of range."] },
        { "negative execution timeout", Reporting("\"Execution\": { \"Timeout\": \"-00:00:05\" }"), ["Workload class 'reporting': Execution: Timeout (-00:00:05) must be positive and under 49 days"] },
        { "execution timeout of sixty days", Reporting("\"Execution\": { \"Timeout\": \"60.00:00:00\" }"), ["Workload class 'reporting': Execution: Timeout (60.00:00:00) must be positive and under 49 days"] },
        { "execution timeout of zero", Reporting("\"Execution\": { \"Timeout\": \"00:00:00\" }"), ["Workload class 'reporting': Execution: Timeout (00:00:00) must be positive"] },

        // Class names go into response headers, metric tags and logs: they are tokens.
        { "class name with a space", Named("my reports"), ["WorkloadIsolation: workload class name 'my reports' must be a token"] },
        { "class name not in ASCII", Named("rapports-é"), ["WorkloadIsolation: workload class name 'rapports-é' must be a token"] },
        { "class name with control characters", Named("rep\\u001b[31morts"), ["WorkloadIsolation: workload class name 'rep\\u001B[31morts' must be a token"] },
        { "default class name alone, with a space", """{ "DefaultClass": "my reports" }""", ["WorkloadIsolation: workload class name 'my reports' must be a token"] },
        { "negative queue timeout", Reporting("\"QueueTimeout\": \"-00:00:05\""), ["Workload class 'reporting': QueueTimeout (-00:00:05) must be zero or positive"] },
        { "per-partition limit of zero", Reporting("\"MaxConcurrencyPerPartition\": 0"), ["Workload class 'reporting': MaxConcurrencyPerPartition (0) is out of range."] },
        { "rate of zero", Reporting("\"RateLimit\": { \"PermitsPerSecond\": 0 }"), ["Workload class 'reporting': RateLimit: PermitsPerSecond (0) is out of range."] },
        { "burst of zero", Reporting("\"RateLimit\": { \"PermitsPerSecond\": 5, \"Burst\": 0 }"), ["Workload class 'reporting': RateLimit: Burst (0) is out of range."] },
        { "negative threads", Reporting("\"Execution\": { \"DedicatedThreads\": -1 }"), ["Workload class 'reporting': Execution: DedicatedThreads (-1) is out of range."] },
        { "job capacity of zero", Reporting("\"Jobs\": { \"Capacity\": 0 }"), ["Workload class 'reporting': Jobs: Capacity (0) is out of range."] },
        { "no partitions tracked", """{ "MaxTrackedPartitions": 0 }""", ["WorkloadIsolation: MaxTrackedPartitions (0) is out of range."] },
        { "reserved above max", Reporting("\"MaxConcurrency\": 4, \"ReservedConcurrency\": 5"), ["Workload class 'reporting': ReservedConcurrency (5) exceeds MaxConcurrency (4)."] },
        { "max above total", Reporting("\"MaxConcurrency\": 17"), ["Workload class 'reporting': MaxConcurrency (17) exceeds TotalConcurrency (16)."] },
        { "reservations above total", """{ "TotalConcurrency": 4, "DefaultClass": "a", "Classes": { "a": { "ReservedConcurrency": 3 }, "b": { "ReservedConcurrency": 2 } } }""", ["the classes' ReservedConcurrency adds up to 5, more than TotalConcurrency (4)."] },

        // Adaptive protection.
        { "adaptive with nothing to keep", """{ "Adaptive": { "Enabled": true } }""", ["WorkloadIsolation: Adaptive is enabled but has nothing to keep"] },
        { "objective without a target", Reporting("\"Objective\": { }"), ["Workload class 'reporting': Objective sets no target"] },
        { "objective of zero", Reporting("\"Objective\": { \"SeatTimeP99\": \"00:00:00\" }"), ["Workload class 'reporting': Objective: SeatTimeP99 (00:00:00) must be positive"] },
        { "objective as a bare number", Reporting("\"Objective\": { \"QueueWaitP99\": 5 }"), ["Workload class 'reporting': Objective: QueueWaitP99 ('5') is not a time span"] },
        { "misspelt objective", Reporting("\"Objective\": { \"SeatTimeP95\": \"00:00:00.050\" }"), ["Workload class 'reporting': Objective: 'SeatTimeP95' is not a setting; did you mean 'SeatTimeP99'?"] },
        { "unknown algorithm", """{ "Adaptive": { "Algorithm": "Pid" } }""", ["WorkloadIsolation: Adaptive: Algorithm ('Pid') is not one of Aimd, Gradient."] },
        { "window too short", """{ "Adaptive": { "Window": "00:00:00.001" } }""", ["WorkloadIsolation: Adaptive: Window (00:00:00.0010000) must be from 10 ms to an hour."] },
        { "decrease that grows", """{ "Adaptive": { "Aimd": { "DecreaseFactor": 1.5 } } }""", ["WorkloadIsolation: Adaptive: Aimd: DecreaseFactor (1.5) is out of range."] },
        { "AIMD step beside the algorithm", """{ "Adaptive": { "IncreaseStep": 2 } }""", ["WorkloadIsolation: Adaptive: 'IncreaseStep' is not a setting here; it is 'Aimd:IncreaseStep'."] },
        { "execution timeout beside the execution", Reporting("\"ExecutionTimeout\": \"00:00:05\""), ["Workload class 'reporting': 'ExecutionTimeout' is not a setting here; it is 'Execution:Timeout'."] },
        { "no samples needed", """{ "Adaptive": { "MinSamples": 0 } }""", ["WorkloadIsolation: Adaptive: MinSamples (0) is out of range."] },
        { "misspelt adaptive setting", """{ "Adaptive": { "Enable": true } }""", ["WorkloadIsolation: Adaptive: 'Enable' is not a setting; did you mean 'Enabled'?"] },

        // Queue delay control.
        { "queue delay target past the timeout", Reporting("\"QueueTimeout\": \"00:00:01\", \"QueueDelay\": { \"Target\": \"00:00:02\" }"), ["Workload class 'reporting': QueueDelay: Target (00:00:02) must be positive and at most the class's QueueTimeout (00:00:01) and an hour."] },
        { "queue delay interval of zero", Reporting("\"QueueDelay\": { \"Interval\": \"00:00:00\" }"), ["Workload class 'reporting': QueueDelay: Interval (00:00:00) must be positive and at most an hour."] },
        { "misspelt queue delay setting", Reporting("\"QueueDelay\": { \"Targt\": \"00:00:00.005\" }"), ["Workload class 'reporting': QueueDelay: 'Targt' is not a setting; did you mean 'Target'?"] },

        // Shedding under pressure.
        { "shed with no threshold", Reporting("\"Shed\": { }"), ["Workload class 'reporting': Shed sets no target; set CpuAbove or MemoryAbove"] },
        { "shed as a percentage", Reporting("\"Shed\": { \"CpuAbove\": 80 }"), ["Workload class 'reporting': Shed: CpuAbove (80) is out of range."] },
        { "shed never admitted again", Reporting("\"Shed\": { \"MemoryAbove\": 0.05 }"), ["Workload class 'reporting': Shed: MemoryAbove (0.05) must be more than Pressure:Hysteresis (0.05)"] },
        { "misspelt shed setting", Reporting("\"Shed\": { \"CpuAbov\": 0.8 }"), ["Workload class 'reporting': Shed: 'CpuAbov' is not a setting; did you mean 'CpuAbove'?"] },
        { "pressure read too often", """{ "Pressure": { "Interval": "00:00:00.001" } }""", ["WorkloadIsolation: Pressure: Interval (00:00:00.0010000) must be from 10 ms to a minute."] },
        { "hysteresis too wide", """{ "Pressure": { "Hysteresis": 0.8 } }""", ["WorkloadIsolation: Pressure: Hysteresis (0.8) is out of range."] },

        // Fleet-wide limits (here no fleet store is registered).
        { "fleet rate without a store", Reporting("\"Fleet\": { \"RateLimit\": { \"PermitsPerSecond\": 5 } }"), ["Workload class 'reporting': has fleet-wide limits (Fleet) but no fleet store is registered"] },
        { "fleet cap without a store", Reporting("\"Fleet\": { \"MaxConcurrency\": 8 }"), ["Workload class 'reporting': has fleet-wide limits", "AddRedisFleetLimits"] },
        { "fleet rate said as a scope", Reporting("\"RateLimit\": { \"PermitsPerSecond\": 5, \"Scope\": \"Fleet\" }"), ["Workload class 'reporting': RateLimit: 'Scope' is not a setting here; it is 'Fleet:RateLimit (a rate that holds across the fleet)'."] },
        { "fleet rate without a rate", Reporting("\"Fleet\": { \"RateLimit\": { \"Burst\": 5 } }"), ["Workload class 'reporting': Fleet: RateLimit: PermitsPerSecond is required."] },
        { "fleet cap of zero", Reporting("\"Fleet\": { \"MaxConcurrency\": 0 }"), ["Workload class 'reporting': Fleet: MaxConcurrency (0) is out of range."] },
        { "fleet section with no cap", Reporting("\"Fleet\": { }"), ["Workload class 'reporting': Fleet sets no"] },
        { "backlogged work at the class's own priority", Reporting("\"Execution\": { \"CpuPriority\": \"Lowest\", \"BackloggedPartitionCpuPriority\": \"BelowNormal\" }"), ["Workload class 'reporting': Execution: BackloggedPartitionCpuPriority (BelowNormal) must be lower than CpuPriority (Lowest): BelowNormal, Lowest or Idle."] },
        { "unknown backlogged priority", Reporting("\"Execution\": { \"BackloggedPartitionCpuPriority\": \"Never\" }"), ["Workload class 'reporting': Execution: BackloggedPartitionCpuPriority ('Never') is not one of Normal, BelowNormal, Lowest, Idle."] },
        { "too many backlog threads", Reporting("\"Execution\": { \"BackloggedPartitionCpuPriority\": \"Idle\", \"BackloggedPartitionThreads\": 5000 }"), ["Workload class 'reporting': Execution: BackloggedPartitionThreads"] },
        { "fleet caps beside a local rate", Reporting("\"RateLimit\": { \"PermitsPerSecond\": 5 }, \"Fleet\": { \"MaxConcurrencyPerPartition\": 2 }"), ["Workload class 'reporting': a RateLimit in each process and Fleet limits cannot be combined; put the rate under Fleet (Fleet:RateLimit), where it holds across the fleet."] },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void StartUp_BadConfiguration_FailsNamingTheClassAndTheField(string name, string section, string[] expected)
    {
        using ServiceProvider services = Build(Json(section));

        var failure = Assert.Throws<OptionsValidationException>(() => services.GetRequiredService<IStartupValidator>().Validate());

        foreach (string part in expected)
        {
            Assert.True(failure.Message.Contains(part, StringComparison.Ordinal), $"{name}: '{part}' not in: {failure.Message}");
        }
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Reload_BadConfiguration_IsRejectedAndTheConfigurationInForceStays(string name, string section, string[] expected)
    {
        var source = new SwappableConfigurationSource();
        source.Provider.Swap(Json(Good));
        var logs = new ListLoggerProvider();
        IConfigurationRoot configuration = new ConfigurationBuilder().Add(source).Build();
        using ServiceProvider services = Build(configuration, logs);
        IWorkloadIsolationMonitor monitor = services.GetRequiredService<IWorkloadIsolationMonitor>();
        IWorkloadScheduler scheduler = services.GetRequiredService<IWorkloadScheduler>();
        WorkloadIsolationOptions before = monitor.CurrentValue;

        source.Provider.Swap(Json(section));

        Assert.Same(before, monitor.CurrentValue);
        Assert.Equal(4, scheduler.GetSnapshot()["reporting"].MaxConcurrency);
        (LogLevel _, string message) = Assert.Single(logs.Messages, m => m.Level == LogLevel.Error);
        foreach (string part in expected)
        {
            Assert.True(message.Contains(part, StringComparison.Ordinal), $"{name}: '{part}' not in: {message}");
        }
    }

    [Fact]
    public void StartUp_GoodConfiguration_Succeeds()
    {
        using ServiceProvider services = Build(Json(Good));

        services.GetRequiredService<IStartupValidator>().Validate();

        Assert.Equal(4, services.GetRequiredService<IWorkloadScheduler>().GetSnapshot()["reporting"].MaxConcurrency);
    }

    [Fact]
    public void StartUp_EverySettingWrittenAsUsersDo_Succeeds()
    {
        const string section = """
            { "TotalConcurrency": 32, "DefaultClass": "interactive", "MaxTrackedPartitions": 100,
              "Http": { "TrustedHeaders": [ "X-Gateway" ], "PartitionHeader": "X-Gateway",
                        "Rules": [ { "PathPrefix": "/reports", "Method": "GET", "Class": "reporting" } ] },
              "Classes": {
                "interactive": { "Priority": 0, "ReservedConcurrency": 8, "MaxConcurrency": null, "QueueLimit": 100,
                                 "QueueTimeout": "00:00:30", "QueueOrder": "lifo" },
                "reporting": { "Priority": 2, "MaxConcurrency": 4, "MaxConcurrencyPerPartition": 2,
                               "QueueTimeout": "-00:00:00.001",
                               "RateLimit": { "PermitsPerSecond": 2.5, "Burst": 5, "PerPartition": true },
                               "Execution": { "Timeout": "00:01:00", "DedicatedThreads": 1, "CpuPriority": "Lowest" } },
                "batch": { "Priority": 3, "MaxConcurrency": 2, "Jobs": { "Capacity": 10, "FullMode": "Reject" } } } }
            """;
        using ServiceProvider services = Build(Json(section));

        services.GetRequiredService<IStartupValidator>().Validate();

        WorkloadIsolationOptions options = services.GetRequiredService<IWorkloadIsolationMonitor>().CurrentValue;
        Assert.Equal(3, options.Classes.Count);
        Assert.Equal(2.5, options.Classes["reporting"].RateLimit!.PermitsPerSecond);
        Assert.Equal(Timeout.InfiniteTimeSpan, options.Classes["reporting"].QueueTimeout);
    }

    [Fact]
    public void StartUp_OnlyTheCodeConfiguresTheOptions_TheSectionCheckIsNotInvolved()
    {
        var services = new ServiceCollection();
        services.AddWorkloadIsolation(o => o.AddClass("batch", c => c.MaxConcurrency = 2).DefaultClass = "batch");
        using ServiceProvider provider = services.BuildServiceProvider();

        provider.GetRequiredService<IStartupValidator>().Validate();
    }

    private static string Reporting(string setting) => $$"""
        { "TotalConcurrency": 16, "DefaultClass": "interactive",
          "Classes": { "interactive": { "ReservedConcurrency": 4 }, "reporting": { {{setting}} } } }
        """;

    private static string Named(string name) => $$"""
        { "TotalConcurrency": 16, "DefaultClass": "interactive",
          "Classes": { "interactive": { "ReservedConcurrency": 4 }, "reporting": { "Priority": 2, "MaxConcurrency": 4 }, "{{name}}": { "Priority": 3 } } }
        """;

    private static IConfigurationRoot Json(string section) =>
        new ConfigurationBuilder().AddJsonStream(new MemoryStream(Encoding.UTF8.GetBytes($$"""{ "WorkloadIsolation": {{section}} }"""))).Build();

    private static ServiceProvider Build(IConfiguration configuration, ILoggerProvider? logs = null)
    {
        var services = new ServiceCollection();
        services.AddLogging(b =>
        {
            if (logs is not null)
            {
                b.AddProvider(logs);
            }
        });
        services.AddWorkloadIsolation(configuration.GetSection("WorkloadIsolation"));
        return services.BuildServiceProvider();
    }
}
