using Bulkhead.Admission.Internal;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace Bulkhead.Tests.Execution;

/// <summary>
/// Execution.BackloggedPartitionCpuPriority: a unit of work granted while more of its partition's work waits behind it
/// (the tenant sending more than its share) runs on the class's backlog threads, at the lower priority; every other unit
/// runs where the class's work always runs. Seats and turns are untouched.
/// </summary>
public sealed class BackloggedPartitionTests
{
    [Fact]
    public async Task AUnitGrantedWithMoreOfItsPartitionWaiting_RunsOnTheBacklogThreads_TheOthersWhereTheClassRuns()
    {
        using var scheduler = new WorkloadScheduler(Options(backlog: WorkloadCpuPriority.Lowest), new FakeTimeProvider());
        WorkloadClass reports = scheduler.GetClass("reports");

        WorkloadLease first = await reports.AcquireAsync("hot");
        Assert.True(first.IsAcquired);
        Assert.False(first.IsBacklogged);
        var waiting = new List<(string Name, Task<WorkloadLease> Lease)>
        {
            ("hot 2", reports.AcquireAsync("hot").AsTask()),
            ("hot 3", reports.AcquireAsync("hot").AsTask()),
            ("quiet", reports.AcquireAsync("quiet").AsTask()),
        };
        Assert.DoesNotContain(waiting, w => w.Lease.IsCompleted);

        Dictionary<string, (bool Backlogged, string? Thread)> ran = [];
        first.Dispose();
        while (waiting.Count > 0)
        {
            // One seat: exactly one waiter is granted each time the unit before it ends.
            Task<WorkloadLease> granted = await Task.WhenAny(waiting.Select(w => w.Lease)).WaitAsync(TimeSpan.FromSeconds(30));
            (string name, _) = waiting.Single(w => w.Lease == granted);
            waiting.RemoveAll(w => w.Lease == granted);
            Assert.DoesNotContain(waiting, w => w.Lease.IsCompleted);

            WorkloadLease lease = await granted;
            bool backlogged = lease.IsBacklogged;
            string? thread = await reports.ExecuteAsync(lease, (_, _) => Task.FromResult(Thread.CurrentThread.Name), state: null);
            ran[name] = (backlogged, thread);
        }

        // "hot 2" left the queue with "hot 3" still behind it; "hot 3" and "quiet" had nothing of theirs behind them.
        Assert.Equal((true, "Bulkhead reports backlogged #1"), ran["hot 2"]);
        Assert.False(ran["hot 3"].Backlogged);
        Assert.False(ran["quiet"].Backlogged);
        Assert.DoesNotContain("Bulkhead", ran["hot 3"].Thread ?? string.Empty, StringComparison.Ordinal);
        Assert.DoesNotContain("Bulkhead", ran["quiet"].Thread ?? string.Empty, StringComparison.Ordinal);
        Assert.Equal(0, scheduler.GetSnapshot()["reports"].InFlight);
    }

    [Fact]
    public async Task WithoutTheSetting_NoUnitIsBacklogged()
    {
        using var scheduler = new WorkloadScheduler(Options(backlog: null), new FakeTimeProvider());
        WorkloadClass reports = scheduler.GetClass("reports");

        WorkloadLease first = await reports.AcquireAsync("hot");
        Task<WorkloadLease> second = reports.AcquireAsync("hot").AsTask();
        Task<WorkloadLease> third = reports.AcquireAsync("hot").AsTask();
        first.Dispose();
        WorkloadLease granted = await second.WaitAsync(TimeSpan.FromSeconds(30));

        Assert.False(third.IsCompleted);
        Assert.False(granted.IsBacklogged);
        granted.Dispose();
        (await third.WaitAsync(TimeSpan.FromSeconds(30))).Dispose();
    }

    [Fact]
    public async Task BoundFromConfiguration_TheBacklogThreadsRunAtTheirPriority()
    {
        IConfiguration configuration = new ConfigurationBuilder().AddJsonStream(new MemoryStream("""
            { "WorkloadIsolation": { "TotalConcurrency": 4, "DefaultClass": "reports", "Classes": {
                "reports": { "MaxConcurrency": 1, "Execution": { "BackloggedPartitionCpuPriority": "Idle", "BackloggedPartitionThreads": 2 } } } } }
            """u8.ToArray())).Build();
        using ServiceProvider services = BuildServices(configuration);

        WorkloadExecutionOptions execution = services.GetRequiredService<IOptions<WorkloadIsolationOptions>>().Value.Classes["reports"].Execution!;
        Assert.Equal((WorkloadCpuPriority.Idle, 2), (execution.BackloggedPartitionCpuPriority, execution.BackloggedPartitionThreads));

        var engine = (WorkloadScheduler)services.GetRequiredService<IWorkloadScheduler>();
        ClassState reports = engine.Engine.Classes.Single(c => c.Name == "reports");
        await reports.BacklogThreads!.AllStarted.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal((WorkloadCpuPriority.Idle, 2), (reports.BacklogThreads.Priority, reports.BacklogThreads.ThreadCount));
        Assert.Null(reports.Threads);
    }

    private static ServiceProvider BuildServices(IConfiguration configuration)
    {
        var services = new ServiceCollection();
        services.AddWorkloadIsolation(configuration.GetSection("WorkloadIsolation"));
        return services.BuildServiceProvider();
    }

    private static WorkloadIsolationOptions Options(WorkloadCpuPriority? backlog) =>
        new WorkloadIsolationOptions { TotalConcurrency = 4, DefaultClass = "reports" }
            .AddClass("reports", c =>
            {
                c.MaxConcurrency = 1;
                c.QueueLimit = 10;
                c.Execution = new WorkloadExecutionOptions { BackloggedPartitionCpuPriority = backlog, BackloggedPartitionThreads = 1 };
            });
}
