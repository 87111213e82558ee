using System.Diagnostics.Metrics;
using System.Globalization;
using Bulkhead.Admission.Internal;
using Bulkhead.Tests.Admission;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;

namespace Bulkhead.Tests.Execution;

public sealed class DedicatedThreadSchedulerTests
{
    [Fact]
    public async Task RunAsync_DedicatedThreads_RunsWorkAndItsContinuationsOnTheClassThreads()
    {
        using WorkloadScheduler scheduler = SchedulerFactory.CreateWhiteBox(4, o => o.AddClass("batch", c => c.Execution = new WorkloadExecutionOptions { DedicatedThreads = 2 }));
        var threads = new List<string?>();

        await scheduler.RunAsync("batch", async _ =>
        {
            threads.Add(Thread.CurrentThread.Name);
            await Task.Yield();
            threads.Add(Thread.CurrentThread.Name);
            await Task.Delay(1, CancellationToken.None);
            threads.Add(Thread.CurrentThread.Name);
        }).WithTimeout();

        Assert.All(threads, name => Assert.StartsWith("Bulkhead batch #", name, StringComparison.Ordinal));
        Assert.Equal(0, scheduler.GetSnapshot()["batch"].InFlight);
    }

    [Fact]
    public async Task RunAsync_ConfigureAwaitFalse_EscapesToTheThreadPool()
    {
        using WorkloadScheduler scheduler = SchedulerFactory.CreateWhiteBox(4, o => o.AddClass("batch", c => c.Execution = new WorkloadExecutionOptions { DedicatedThreads = 1 }));

        bool escaped = await scheduler.RunAsync("batch", async _ =>
        {
            Assert.False(Thread.CurrentThread.IsThreadPoolThread);
            await Task.Delay(1, CancellationToken.None).ConfigureAwait(false);
            return Thread.CurrentThread.IsThreadPoolThread;
        }).WithTimeout();

        Assert.True(escaped);
    }

    [Fact]
    public async Task RunAsync_NoExecutionOptions_RunsOnTheThreadPool()
    {
        using WorkloadScheduler scheduler = SchedulerFactory.CreateWhiteBox(4, o => o.AddClass("interactive"));

        // From a ThreadPool thread: the test runner's own synchronization context would otherwise take the continuation.
        bool onPool = await Task.Run(() => scheduler.RunAsync("interactive", async _ =>
        {
            await Task.Yield();
            return Thread.CurrentThread.IsThreadPoolThread;
        })).WithTimeout();

        Assert.True(onPool);
    }

    [Theory]
    [InlineData(WorkloadCpuPriority.BelowNormal, 5, 0)]
    [InlineData(WorkloadCpuPriority.Lowest, 19, 0)]
    [InlineData(WorkloadCpuPriority.Idle, 19, 5)]
    public async Task DedicatedThreads_OnLinux_HaveTheClassPriorityWhileThreadPoolThreadsKeepTheirs(WorkloadCpuPriority priority, int nice, int policy)
    {
        if (!OperatingSystem.IsLinux())
        {
            return;
        }

        using WorkloadScheduler scheduler = SchedulerFactory.CreateWhiteBox(4, o => o.AddClass("batch", c =>
            c.Execution = new WorkloadExecutionOptions { DedicatedThreads = 2, CpuPriority = priority }));

        (int Nice, int Policy)[] dedicated = await Task.WhenAll(Enumerable.Range(0, 4).Select(_ =>
            scheduler.RunAsync("batch", _ => ValueTask.FromResult(ReadOwnThreadStat())))).WithTimeout();
        (int Nice, int Policy) pool = await Task.Run(ReadOwnThreadStat).WithTimeout();

        Assert.All(dedicated, stat => Assert.Equal((nice, policy), stat));
        Assert.Equal((0, 0), pool);
        await scheduler.Resolve("batch").Threads!.AllStarted.WithTimeout();
        Assert.Equal(2, scheduler.Resolve("batch").Threads!.LoweredThreads);
    }

    [Fact]
    public async Task Dispose_ContinuationsOfRunningWork_StillRun()
    {
        WorkloadScheduler scheduler = SchedulerFactory.CreateWhiteBox(4, o => o.AddClass("batch", c => c.Execution = new WorkloadExecutionOptions { DedicatedThreads = 1 }));
        var gate = new Gate();
        Task<bool> run = scheduler.RunAsync("batch", async _ =>
        {
            await gate.WaitAsync();
            await Task.Yield();
            return true;
        });
        await gate.Entered.WithTimeout();

        scheduler.Dispose();
        gate.Open();

        Assert.True(await run.WithTimeout());
    }

    /// <summary>Reads the calling thread's nice value (field 19) and scheduling policy (field 41) from /proc.</summary>
    private static (int Nice, int Policy) ReadOwnThreadStat()
    {
        string stat = File.ReadAllText("/proc/thread-self/stat");
        string[] fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');

        // fields[0] is field 3 (state).
        return (int.Parse(fields[19 - 3], CultureInfo.InvariantCulture), int.Parse(fields[41 - 3], CultureInfo.InvariantCulture));
    }

    [Fact]
    public async Task SyncOverAsyncOnTheClassThreads_IsDetectedReportedAndRecoveredWithAnAddedThread()
    {
        var time = new FakeTimeProvider();
        var logs = new ListLoggerProvider();
        var options = new WorkloadIsolationOptions { TotalConcurrency = 4, DefaultClass = "batch" }
            .AddClass("batch", c => c.Execution = new WorkloadExecutionOptions { DedicatedThreads = 1 });
        using ServiceProvider metrics = new ServiceCollection().AddMetrics().BuildServiceProvider();
        IMeterFactory meters = metrics.GetRequiredService<IMeterFactory>();
        using var scheduler = new WorkloadScheduler(options, time, logger: logs.CreateLogger("test"), meterFactory: meters);
        using var threadCount = new MetricCollector<long>(meters, WorkloadIsolationTelemetry.MeterName, "bulkhead.dedicated_threads");
        using var starvations = new MetricCollector<long>(meters, WorkloadIsolationTelemetry.MeterName, "bulkhead.dedicated_threads.starvations");
        TaskScheduler threads = scheduler.GetClass("batch").TaskScheduler!;

        // Work on the class's only thread waits synchronously for a continuation queued behind it on that same thread.
        Task<int> outer = Task.Factory.StartNew(
            () => Task.Factory.StartNew(async () => { await Task.Yield(); return 42; }, CancellationToken.None, TaskCreationOptions.None, threads).Unwrap().Result,
            CancellationToken.None,
            TaskCreationOptions.None,
            threads);
        await Eventually.TrueAsync(
            () =>
            {
                time.Advance(Bulkhead.Execution.Internal.DedicatedThreadScheduler.WatchInterval);
                return outer.IsCompleted;
            },
            "the watchdog adds a thread and the blocked work completes");

        Assert.Equal(42, await outer);
        WorkloadClassSnapshot snapshot = scheduler.GetSnapshot()["batch"];
        Assert.Equal((2, 1L), (snapshot.DedicatedThreads, snapshot.ThreadStarvations));
        threadCount.RecordObservableInstruments();
        starvations.RecordObservableInstruments();
        Assert.Equal(2, threadCount.LastMeasurement!.Value);
        Assert.Equal(1, starvations.LastMeasurement!.Value);
        Assert.Equal("batch", starvations.LastMeasurement.Tags["bulkhead.workload_class"]);
        Assert.Contains(logs.Messages, m => m.Level == LogLevel.Warning && m.Message.Contains("'batch'", StringComparison.Ordinal) && m.Message.Contains(".Result", StringComparison.Ordinal));
    }

    [Fact]
    public async Task BusyThreadsThatComplete_AreNotStarvation()
    {
        var time = new FakeTimeProvider();
        var options = new WorkloadIsolationOptions { TotalConcurrency = 4, DefaultClass = "batch" }
            .AddClass("batch", c => c.Execution = new WorkloadExecutionOptions { DedicatedThreads = 1 });
        using var scheduler = new WorkloadScheduler(options, time);
        TaskScheduler threads = scheduler.GetClass("batch").TaskScheduler!;

        for (int i = 0; i < 20; i++)
        {
            await Task.Factory.StartNew(() => Thread.Sleep(1), CancellationToken.None, TaskCreationOptions.None, threads).WithTimeout();
            time.Advance(Bulkhead.Execution.Internal.DedicatedThreadScheduler.WatchInterval);
        }

        Assert.Equal((1, 0L), (scheduler.GetSnapshot()["batch"].DedicatedThreads, scheduler.GetSnapshot()["batch"].ThreadStarvations));
    }
}
