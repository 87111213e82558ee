using Bulkhead.Jobs.Internal;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;

namespace Bulkhead.Tests.Jobs;

/// <summary>
/// Job items get the admission any work gets (the engine's queues: priority, partitions, MaxConcurrency), and every
/// accepted item ends exactly once: run, failed, canceled or reported dropped.
/// </summary>
public sealed class JobQueueReliabilityTests : IAsyncDisposable
{
    private readonly ListLoggerProvider _logs = new();
    private ServiceProvider? _services;

    [Fact]
    public async Task SynchronousItems_RunAsManyAtOnceAsTheClassAllows()
    {
        WorkloadJobQueue queue = Create(maxConcurrency: 4);
        using var release = new ManualResetEventSlim();
        int running = 0;
        int peak = 0;
        for (int i = 0; i < 8; i++)
        {
            await queue.EnqueueAsync("batch", _ =>
            {
                // Synchronous work, as a legacy job is: it blocks its thread until released.
                int now = Interlocked.Increment(ref running);
                InterlockedMax.Raise(ref peak, now);
                release.Wait(TimeSpan.FromSeconds(30), CancellationToken.None);
                Interlocked.Decrement(ref running);
                return ValueTask.CompletedTask;
            }).AsTask().WithTimeout();
        }

        await Eventually.TrueAsync(() => Volatile.Read(ref running) == 4, "four synchronous items run at once");
        release.Set();
        await Eventually.TrueAsync(() => queue.Completed == 8, "every item ran");
        Assert.Equal(4, peak);
    }

    [Fact]
    public async Task TenantAtItsPartitionLimit_DoesNotHoldBackAnotherTenantWhileSeatsAreFree()
    {
        WorkloadJobQueue queue = Create(maxConcurrency: 4, perPartition: 1);
        var busy = new Gate();
        var ran = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await queue.EnqueueAsync("batch", async _ => await busy.WaitAsync(), "tenant-a").AsTask().WithTimeout();
        await busy.Entered.WithTimeout();
        await queue.EnqueueAsync("batch", _ => ValueTask.CompletedTask, "tenant-a").AsTask().WithTimeout();

        await queue.EnqueueAsync("batch", _ => { ran.TrySetResult(); return ValueTask.CompletedTask; }, "tenant-b").AsTask().WithTimeout();

        await ran.Task.WithTimeout();
        Assert.Equal(1, Scheduler.GetSnapshot()["batch"].Queued);
        busy.Open();
        await Eventually.TrueAsync(() => queue.Completed == 3, "every item ran");
    }

    [Fact]
    public async Task HotTenant_QuietTenantsFirstItemIsServedInTurnNotAfterTheBacklog()
    {
        WorkloadJobQueue queue = Create(maxConcurrency: 1);
        var order = new List<string>();
        var first = new Gate();
        await queue.EnqueueAsync("batch", async _ => await first.WaitAsync(), "hot").AsTask().WithTimeout();
        await first.Entered.WithTimeout();
        for (int i = 0; i < 200; i++)
        {
            await queue.EnqueueAsync("batch", _ => { lock (order) { order.Add("hot"); } return ValueTask.CompletedTask; }, "hot").AsTask().WithTimeout();
        }

        await queue.EnqueueAsync("batch", _ => { lock (order) { order.Add("quiet"); } return ValueTask.CompletedTask; }, "quiet").AsTask().WithTimeout();
        first.Open();

        await Eventually.TrueAsync(() => queue.Completed == 202, "every item ran");
        Assert.InRange(order.IndexOf("quiet"), 0, 1);
    }

    [Fact]
    public async Task EnqueueRacingStop_EveryAcceptedItemRunsOrIsReportedDropped()
    {
        for (int round = 0; round < 100; round++)
        {
            WorkloadJobQueue queue = Create(maxConcurrency: 2);
            int accepted = 0;
            int ran = 0;
            using var go = new ManualResetEventSlim();
            Task[] producers = [.. Enumerable.Range(0, 4).Select(p => Task.Run(async () =>
            {
                go.Wait();
                for (int i = 0; i < 20; i++)
                {
                    try
                    {
                        await queue.EnqueueAsync("batch", _ => { Interlocked.Increment(ref ran); return ValueTask.CompletedTask; }, $"tenant-{p}");
                        Interlocked.Increment(ref accepted);
                    }
                    catch (WorkloadRejectedException e) when (e.Reason == WorkloadRejectionReason.ShuttingDown)
                    {
                        // Refused, not accepted: nothing to account for.
                    }
                }
            }))];
            go.Set();
            await queue.StopAsync(CancellationToken.None).WithTimeout();
            await Task.WhenAll(producers).WithTimeout();
            await Eventually.TrueAsync(() => queue.Pending == 0, "every accepted item ended");

            Assert.Equal(accepted, Volatile.Read(ref ran) + queue.Dropped);
            Assert.Equal(ran, queue.Completed);
            await DisposeAsync();
        }
    }

    [Fact]
    public async Task ProviderDisposedWithoutAHost_QueuedItemsAreReportedAndLaterEnqueuesRefused()
    {
        WorkloadJobQueue queue = Create(maxConcurrency: 1);
        WorkloadLease held = Scheduler.TryAcquire("batch");
        for (int i = 0; i < 3; i++)
        {
            await queue.EnqueueAsync("batch", _ => ValueTask.CompletedTask).AsTask().WithTimeout();
        }

        await _services!.DisposeAsync();
        held.Dispose();

        Assert.Equal(3, queue.Dropped);
        Assert.Equal(3, _logs.Messages.Count(m => m.Level == LogLevel.Warning && m.Message.Contains("did not run", StringComparison.Ordinal)));
        var refused = await Assert.ThrowsAsync<WorkloadRejectedException>(() => queue.EnqueueAsync("batch", _ => ValueTask.CompletedTask).AsTask().WithTimeout());
        Assert.Equal(WorkloadRejectionReason.ShuttingDown, refused.Reason);
        _services = null;
    }

    [Fact]
    public async Task RejectModeWhileStopped_RefusesWithShuttingDownNotQueueFull()
    {
        WorkloadJobQueue queue = Create(maxConcurrency: 1, capacity: 1, fullMode: WorkloadJobFullMode.Reject);
        using WorkloadLease held = Scheduler.TryAcquire("batch");
        await queue.EnqueueAsync("batch", _ => ValueTask.CompletedTask).AsTask().WithTimeout();
        await queue.StopAsync(CancellationToken.None).WithTimeout();

        var refused = await Assert.ThrowsAsync<WorkloadRejectedException>(() => queue.EnqueueAsync("batch", _ => ValueTask.CompletedTask).AsTask().WithTimeout());

        Assert.Equal(WorkloadRejectionReason.ShuttingDown, refused.Reason);
    }

    [Fact]
    public async Task ManyItems_NoneStaysTrackedAfterItEnds()
    {
        WorkloadJobQueue queue = Create(maxConcurrency: 4, capacity: 100_000);
        for (int i = 0; i < 20_000; i++)
        {
            await queue.EnqueueAsync("batch", i % 2 == 0 ? _ => ValueTask.CompletedTask : async _ => await Task.Yield(), $"tenant-{i % 7}");
        }

        await Eventually.TrueAsync(() => queue.Completed == 20_000, "every item ran");
        await Eventually.TrueAsync(() => queue.Pending == 0, "no finished item stays tracked");
        Assert.Equal(0, Scheduler.GetSnapshot()["batch"].InFlight);
    }

    [Fact]
    public async Task HostWithFakeTime_StopWithAnItemIgnoringItsToken_ReturnsAtTheShutdownTimeout()
    {
        HostApplicationBuilder builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        var time = new FakeTimeProvider();
        builder.Services.AddSingleton<TimeProvider>(time);
        builder.Services.AddWorkloadIsolation(o => o.AddClass("batch", c => c.MaxConcurrency = 2).DefaultClass = "batch");
        using IHost host = builder.Build();
        await host.StartAsync().WithTimeout();
        using var release = new ManualResetEventSlim();
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        WorkloadJobQueue queue = (WorkloadJobQueue)host.Services.GetRequiredService<IWorkloadJobQueue>();
        await queue.EnqueueAsync("batch", _ =>
        {
            started.TrySetResult();
            release.Wait(TimeSpan.FromSeconds(30), CancellationToken.None); // ignores its token
            return ValueTask.CompletedTask;
        }).AsTask().WithTimeout();
        await started.Task.WithTimeout();
        using var shutdownTimeout = new CancellationTokenSource();
        await shutdownTimeout.CancelAsync();

        await host.StopAsync(shutdownTimeout.Token).WithTimeout();

        release.Set();
        await Eventually.TrueAsync(() => queue.Completed == 1, "the item ends on its own terms");
    }

    public async ValueTask DisposeAsync()
    {
        if (_services is not null)
        {
            await _services.DisposeAsync();
            _services = null;
        }
    }

    private IWorkloadScheduler Scheduler => _services!.GetRequiredService<IWorkloadScheduler>();

    private WorkloadJobQueue Create(int maxConcurrency, int? perPartition = null, int capacity = 1_000, WorkloadJobFullMode fullMode = WorkloadJobFullMode.Wait)
    {
        _services = new ServiceCollection()
            .AddLogging(b => b.AddProvider(_logs))
            .AddWorkloadIsolation(o =>
            {
                o.TotalConcurrency = 8;
                o.DefaultClass = "interactive";
                o.AddClass("interactive", c => c.ReservedConcurrency = 1);
                o.AddClass("batch", c =>
                {
                    c.Priority = 3;
                    c.MaxConcurrency = maxConcurrency;
                    c.MaxConcurrencyPerPartition = perPartition;
                    c.QueueLimit = 10;
                    c.QueueTimeout = TimeSpan.FromSeconds(1);
                    c.Jobs = new WorkloadJobQueueOptions { Capacity = capacity, FullMode = fullMode };
                });
            })
            .Services.BuildServiceProvider();
        return (WorkloadJobQueue)_services.GetRequiredService<IWorkloadJobQueue>();
    }
}
