using Bulkhead.Execution.Internal;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;

namespace Bulkhead.Tests.Execution;

/// <summary>
/// Idle ThreadPool workers spin at normal priority and take CPU from low-priority dedicated threads: Bulkhead reads the
/// setting as the runtime does and says so at start-up for every class below normal priority.
/// </summary>
public sealed class ThreadPoolSpinningTests
{
    [Theory]
    [InlineData(null, null, null, true)]           // the runtime's default: workers spin
    [InlineData("0", null, null, false)]
    [InlineData("0x0", null, null, false)]
    [InlineData("46", null, null, true)]           // hexadecimal, as every DOTNET_ number
    [InlineData(null, "0", null, false)]           // COMPlus_ when DOTNET_ is absent
    [InlineData("46", null, "0", true)]            // the environment wins over runtimeconfig
    [InlineData("zz", null, "0", false)]           // an environment value that does not parse is ignored
    [InlineData(null, null, "0", false)]           // runtimeconfig.json / RuntimeHostConfigurationOption
    [InlineData(null, null, "70", true)]
    [InlineData(null, null, "0x0", false)]
    [InlineData(null, null, "-1", true)]           // negative: the runtime keeps its default
    [InlineData(null, null, "many", true)]
    public void IsOn_ReadsTheSettingAsTheRuntimeDoes(string? dotnet, string? complus, string? configuration, bool spins)
    {
        var environment = new Dictionary<string, string?>
        {
            ["DOTNET_ThreadPool_UnfairSemaphoreSpinLimit"] = dotnet,
            ["COMPlus_ThreadPool_UnfairSemaphoreSpinLimit"] = complus,
        };

        bool on = ThreadPoolSpinning.IsOn(name => environment.GetValueOrDefault(name), name => name == ThreadPoolSpinning.ConfigName ? configuration : null);

        Assert.Equal(spins, on);
    }

    [Theory]
    [InlineData(0u, false)]
    [InlineData(70u, true)]
    public void IsOn_NumericConfigurationValue(uint value, bool spins) =>
        Assert.Equal(spins, ThreadPoolSpinning.IsOn(_ => null, name => name == ThreadPoolSpinning.ConfigName ? value : null));

    [Theory]
    [InlineData(WorkloadCpuPriority.Lowest, true, true)]
    [InlineData(WorkloadCpuPriority.Idle, true, true)]
    [InlineData(WorkloadCpuPriority.BelowNormal, true, true)]
    [InlineData(WorkloadCpuPriority.Lowest, false, false)]
    [InlineData(WorkloadCpuPriority.Normal, true, false)]
    public async Task DedicatedThreadsBelowNormal_WhileWorkersSpin_SayHowToStopIt(WorkloadCpuPriority priority, bool spins, bool said)
    {
        var logs = new ListLoggerProvider();
        using var scheduler = new DedicatedThreadScheduler("reports", 2, priority, logger: logs.CreateLogger("test"), threadPoolSpins: spins);
        await scheduler.AllStarted.WaitAsync(TimeSpan.FromSeconds(30));

        string[] advice = [.. logs.Messages.Where(m => m.Message.Contains(ThreadPoolSpinning.ConfigName, StringComparison.Ordinal)).Select(m => m.Message)];
        Assert.Equal(said ? 1 : 0, advice.Length);
        if (said)
        {
            Assert.Contains("'reports'", advice[0], StringComparison.Ordinal);
            Assert.Contains($"CpuPriority {priority}", advice[0], StringComparison.Ordinal);
            Assert.Equal(LogLevel.Information, logs.Messages.Single(m => m.Message == advice[0]).Level);
        }
    }

    [Theory]
    [InlineData(WorkloadCpuPriority.Idle, 3, 2, true)]
    [InlineData(WorkloadCpuPriority.Lowest, 16, 2, true)]
    [InlineData(WorkloadCpuPriority.Idle, 2, 2, false)]
    [InlineData(WorkloadCpuPriority.Idle, 4, 8, false)]
    [InlineData(WorkloadCpuPriority.Normal, 8, 2, false)]
    public async Task MoreThreadsBelowNormalThanProcessors_SayOnePerProcessor(WorkloadCpuPriority priority, int threads, int processors, bool said)
    {
        var logs = new ListLoggerProvider();
        using var scheduler = new DedicatedThreadScheduler("reports", threads, priority, logger: logs.CreateLogger("test"), threadPoolSpins: false, processorCount: processors);
        await scheduler.AllStarted.WaitAsync(TimeSpan.FromSeconds(30));

        string[] advice = [.. logs.Messages.Where(m => m.Message.Contains("one thread per processor", StringComparison.Ordinal)).Select(m => m.Message)];
        Assert.Equal(said ? 1 : 0, advice.Length);
        if (said)
        {
            Assert.Contains($"'reports' runs on {threads} dedicated threads at CpuPriority {priority}, more than the {processors} processors", advice[0], StringComparison.Ordinal);
            Assert.Equal(LogLevel.Information, logs.Messages.Single(m => m.Message == advice[0]).Level);
        }
    }

    [Fact]
    public void AScheduler_BuildingAClassBelowNormal_ReadsThisProcessSetting()
    {
        var logs = new ListLoggerProvider();
        var options = new WorkloadIsolationOptions { TotalConcurrency = 4, DefaultClass = "reporting" }
            .AddClass("reporting", c => c.Execution = new WorkloadExecutionOptions { DedicatedThreads = 1, CpuPriority = WorkloadCpuPriority.Lowest });

        using var scheduler = TestScheduler.Create(options, new FakeTimeProvider(), logger: logs.CreateLogger("test"));

        Assert.Equal(ThreadPoolSpinning.IsOn(), logs.Messages.Any(m => m.Message.Contains(ThreadPoolSpinning.ConfigName, StringComparison.Ordinal)));
    }
}
