using System.Collections.Concurrent;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Quartz;

namespace Bulkhead.Quartz.Tests;

/// <summary>
/// A real Quartz scheduler whose firings run under workload classes: jobs fired at once take their class's seats two
/// at a time, a more important class's waiting jobs go first, a job's class comes from its key, its type or its group,
/// and two schedulers sharing a Redis fleet cap never run more than the cap between them.
/// </summary>
public sealed class QuartzJobTests
{
    [Fact]
    public async Task JobsFiredAtOnce_RunTwoAtATimeOnTwoSeats_AndTheMoreImportantClassGoesFirst()
    {
        var runs = new Runs();
        await using ServiceProvider services = Build(runs, o => o.TotalConcurrency = 2, q => { });
        IScheduler scheduler = await StartAsync(services);

        // Two batch jobs hold both seats; then 10 batch and 10 reporting jobs fire and wait for them.
        await FireAsync(scheduler, "batch", "hold-1", "hold-2");
        await Eventually.TrueAsync(() => runs.Running == 2, "the two holding jobs run");
        await FireAsync(scheduler, "batch", [.. Enumerable.Range(0, 10).Select(i => $"b{i}")]);
        await FireAsync(scheduler, "reports", [.. Enumerable.Range(0, 10).Select(i => $"r{i}")]);
        IWorkloadScheduler workloads = services.GetRequiredService<IWorkloadScheduler>();
        await Eventually.TrueAsync(() => workloads.GetSnapshot()["batch"].Queued == 10 && workloads.GetSnapshot()["reporting"].Queued == 10, "20 firings wait for a seat");

        runs.Hold.TrySetResult();
        await Eventually.TrueAsync(() => runs.Started.Count == 22 && runs.Running == 0, "every job ran", TimeSpan.FromSeconds(30));

        Assert.Equal(2, runs.MaxRunning);
        string[] order = [.. runs.Started.Select(s => s.Job)];
        Assert.All(order[2..12], job => Assert.StartsWith("r", job, StringComparison.Ordinal));
        Assert.All(order[12..], job => Assert.StartsWith("b", job, StringComparison.Ordinal));
        Assert.All(runs.Started, s => Assert.Equal(s.Job.StartsWith('r') ? "reporting" : "batch", s.Class));
        Assert.Equal((12L, 10L), (workloads.GetSnapshot()["batch"].Admitted, workloads.GetSnapshot()["reporting"].Admitted));
    }

    [Fact]
    public async Task AJobsClass_ComesFromItsKey_ThenItsType_ThenItsGroup_ThenTheDefault_AndAnUnknownNameIsLoggedOnce()
    {
        var runs = new Runs();
        runs.Hold.TrySetResult();
        var logs = new ListLoggerProvider();
        await using ServiceProvider services = Build(
            runs,
            o => o.AddClass("exports", c => c.Priority = 3),
            q => { },
            o =>
            {
                o.ClassesByJob["reports.by-key"] = "exports";
                o.ClassesByJob["elsewhere.misspelt"] = "exprots";
                o.ClassesByGroup["reports"] = "reporting";
                o.DefaultClass = "batch";
            },
            logs);
        IScheduler scheduler = await StartAsync(services);

        await FireAsync(scheduler, "reports", "by-key", "by-group");
        await FireAsync(scheduler, "elsewhere", "by-default", "misspelt", "misspelt-again");
        await scheduler.ScheduleJob(
            JobBuilder.Create<AttributedJob>().WithIdentity("by-type", "reports").Build(),
            TriggerBuilder.Create().StartNow().Build());
        await Eventually.TrueAsync(() => runs.Started.Count == 5 && AttributedJob.Seen is not null, "every job ran");

        Dictionary<string, string> classOf = runs.Started.ToDictionary(s => s.Job, s => s.Class);
        Assert.Equal(("exports", "reporting", "batch", "interactive"), (classOf["by-key"], classOf["by-group"], classOf["by-default"], classOf["misspelt"]));
        Assert.Equal("exports", AttributedJob.Seen);
        string warning = Assert.Single(logs.Messages, m => m.Level == LogLevel.Warning).Message;
        Assert.Contains("'exprots'", warning, StringComparison.Ordinal);
    }

    [RedisFact]
    public async Task TwoSchedulers_OnOneRedis_KeepTheFleetCap()
    {
        await using RedisServer redis = await RedisServer.StartAsync();
        var runs = new Runs();
        await using ServiceProvider first = Build(runs, o => o.Classes["reporting"].Fleet = new() { MaxConcurrency = 2 }, q => { }, fleet: redis.Configuration);
        await using ServiceProvider second = Build(runs, o => o.Classes["reporting"].Fleet = new() { MaxConcurrency = 2 }, q => { }, fleet: redis.Configuration);
        IScheduler one = await StartAsync(first);
        IScheduler other = await StartAsync(second);

        // Each node could run 8 reports at once; across both, Redis lets 2 run.
        await FireAsync(one, "reports", [.. Enumerable.Range(0, 6).Select(i => $"one-{i}")]);
        await FireAsync(other, "reports", [.. Enumerable.Range(0, 6).Select(i => $"other-{i}")]);
        await Eventually.TrueAsync(() => runs.Running == 2, "two reports run across the fleet");
        await Task.Delay(300);
        Assert.Equal(2, runs.Running);

        runs.Hold.TrySetResult();
        await Eventually.TrueAsync(() => runs.Started.Count == 12 && runs.Running == 0, "every report ran", TimeSpan.FromSeconds(60));
        Assert.Equal(2, runs.MaxRunning);
    }

    private static ServiceProvider Build(
        Runs runs,
        Action<WorkloadIsolationOptions> isolation,
        Action<IQuartzBuilder> quartz,
        Action<WorkloadIsolationQuartzOptions>? classes = null,
        ListLoggerProvider? logs = null,
        string? fleet = null)
    {
        var services = new ServiceCollection();
        services.AddLogging(logging =>
        {
            if (logs is not null)
            {
                logging.AddProvider(logs);
            }
        });
        services.AddSingleton(runs);
        IWorkloadIsolationBuilder workloads = services.AddWorkloadIsolation(o =>
        {
            o.TotalConcurrency = 8;
            o.DefaultClass = "interactive";
            o.AddClass("interactive");
            o.AddClass("reporting", c => c.Priority = 2);
            o.AddClass("batch", c => c.Priority = 3);
            isolation(o);
        });
        if (fleet is not null)
        {
            workloads.AddRedisFleetLimits(o => (o.Configuration, o.OperationTimeout) = (fleet, TimeSpan.FromSeconds(2)));
        }

        services.AddQuartz(q =>
        {
            q.UseWorkloadIsolation(classes ?? (o => (o.ClassesByGroup["reports"], o.ClassesByGroup["batch"]) = ("reporting", "batch")));
            q.UseDefaultThreadPool(32);
            quartz(q);
        });
        return services.BuildServiceProvider();
    }

    private static async Task<IScheduler> StartAsync(ServiceProvider services)
    {
        IScheduler scheduler = await services.GetRequiredService<ISchedulerFactory>().GetScheduler();
        await scheduler.Start();
        return scheduler;
    }

    private static async Task FireAsync(IScheduler scheduler, string group, params string[] jobs)
    {
        foreach (string job in jobs)
        {
            await scheduler.ScheduleJob(
                JobBuilder.Create<RecordingJob>().WithIdentity(job, group).Build(),
                TriggerBuilder.Create().StartNow().Build());
        }
    }

    /// <summary>What the jobs did: the order they started in and their class, and how many ran at once.</summary>
    public sealed class Runs
    {
        private int _running;
        private int _maxRunning;

        public ConcurrentQueue<(string Job, string Class)> Started { get; } = new();

        public int MaxRunning => Volatile.Read(ref _maxRunning);

        public TaskCompletionSource Hold { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public int Running => Volatile.Read(ref _running);

        public async Task RunAsync(string job, CancellationToken cancellationToken)
        {
            Started.Enqueue((job, WorkloadContext.Current?.WorkloadClass ?? "none"));
            InterlockedMax.Raise(ref _maxRunning, Interlocked.Increment(ref _running));
            try
            {
                await Hold.Task.WaitAsync(TimeSpan.FromSeconds(30), cancellationToken);
                await Task.Delay(5, cancellationToken);
            }
            finally
            {
                Interlocked.Decrement(ref _running);
            }
        }
    }

    public sealed class RecordingJob(Runs runs) : IJob
    {
        public ValueTask Execute(IJobExecutionContext context, CancellationToken cancellationToken) =>
            new(runs.RunAsync(context.JobDetail.Key.Name, cancellationToken));
    }

    [WorkloadClass("exports")]
    public sealed class AttributedJob : IJob
    {
        public static string? Seen { get; private set; }

        public ValueTask Execute(IJobExecutionContext context, CancellationToken cancellationToken)
        {
            Seen = WorkloadContext.Current?.WorkloadClass;
            return ValueTask.CompletedTask;
        }
    }
}
