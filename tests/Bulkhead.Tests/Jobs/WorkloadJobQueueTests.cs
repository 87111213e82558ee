using Bulkhead.Jobs.Internal;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Bulkhead.Tests.Jobs;

public sealed class WorkloadJobQueueTests : IAsyncDisposable
{
    private readonly ListLoggerProvider _logs = new();
    private ServiceProvider? _services;

    [Fact]
    public async Task EnqueueAsync_WaitMode_WaitsForRoomWhenFull()
    {
        (WorkloadJobQueue queue, IWorkloadScheduler scheduler) = Create(WorkloadJobFullMode.Wait, capacity: 1);
        using WorkloadLease held = scheduler.TryAcquire("batch");
        await queue.EnqueueAsync("batch", _ => ValueTask.CompletedTask).AsTask().WithTimeout();
        await Eventually.TrueAsync(() => scheduler.GetSnapshot()["batch"].Queued == 1, "the first job waits for a seat");

        ValueTask second = queue.EnqueueAsync("batch", _ => ValueTask.CompletedTask);

        Assert.False(second.IsCompleted);
        held.Dispose();
        await second.AsTask().WithTimeout();
        await Eventually.TrueAsync(() => queue.Completed == 2, "both jobs ran");
    }

    [Fact]
    public async Task AJobsCode_RunsForAUnitOfWorkOfItsClass_NotOfTheWorkThatQueuedIt()
    {
        (WorkloadJobQueue queue, _) = Create(WorkloadJobFullMode.Wait, capacity: 4);
        var seen = new TaskCompletionSource<string?>(TaskCreationOptions.RunContinuationsAsynchronously);

        // Queued by a request of another class: the item's calls must carry the job's class, not the request's.
        WorkloadContext.Current = new WorkloadContext("interactive", DateTimeOffset.UtcNow.AddSeconds(1));
        await queue.EnqueueAsync("batch", _ =>
        {
            seen.TrySetResult($"{WorkloadContext.Current?.WorkloadClass} {WorkloadContext.Current?.Deadline}".TrimEnd());
            return ValueTask.CompletedTask;
        }).AsTask().WithTimeout();

        Assert.Equal("batch", await seen.Task.WithTimeout());
    }

    [Fact]
    public async Task EnqueueAsync_RejectMode_ThrowsQueueFullAtOnce()
    {
        (WorkloadJobQueue queue, IWorkloadScheduler scheduler) = Create(WorkloadJobFullMode.Reject, capacity: 1);
        using WorkloadLease held = scheduler.TryAcquire("batch");
        await queue.EnqueueAsync("batch", _ => ValueTask.CompletedTask).AsTask().WithTimeout();

        WorkloadRejectedException exception = await Assert.ThrowsAsync<WorkloadRejectedException>(
            () => queue.EnqueueAsync("batch", _ => ValueTask.CompletedTask).AsTask().WithTimeout());

        Assert.Equal(("batch", WorkloadRejectionReason.QueueFull), (exception.WorkloadClass, exception.Reason));
    }

    [Fact]
    public async Task Jobs_RunByPriorityAcrossClasses()
    {
        (WorkloadJobQueue queue, IWorkloadScheduler scheduler) = Create(WorkloadJobFullMode.Wait);
        WorkloadLease held = scheduler.TryAcquire("batch");
        var order = new List<string>();
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await queue.EnqueueAsync("batch", _ => { order.Add("batch"); done.TrySetResult(); return ValueTask.CompletedTask; }).AsTask().WithTimeout();
        await Eventually.TrueAsync(() => scheduler.GetSnapshot()["batch"].Queued == 1, "the batch job waits");
        await queue.EnqueueAsync("reporting", _ => { order.Add("reporting"); return ValueTask.CompletedTask; }).AsTask().WithTimeout();
        await Eventually.TrueAsync(() => scheduler.GetSnapshot()["reporting"].Queued == 1, "the reporting job waits");

        held.Dispose();

        await done.Task.WithTimeout();
        Assert.Equal(["reporting", "batch"], order);
    }

    [Fact]
    public async Task FailingJob_IsLoggedAndCounted_LaterJobsStillRun()
    {
        (WorkloadJobQueue queue, _) = Create(WorkloadJobFullMode.Wait);

        await queue.EnqueueAsync("batch", _ => throw new InvalidOperationException("boom"), "tenant-1").AsTask().WithTimeout();
        await queue.EnqueueAsync("batch", _ => ValueTask.CompletedTask).AsTask().WithTimeout();

        await Eventually.TrueAsync(() => queue.Failed == 1 && queue.Completed == 1, "one job failed and the next ran");
        Assert.Contains(_logs.Messages, m => m.Level == LogLevel.Error && m.Message.Contains("'batch'", StringComparison.Ordinal) && m.Message.Contains("tenant-1", StringComparison.Ordinal));
    }

    [Fact]
    public async Task StopAsync_QueuedItemsThatDidNotRun_AreEachReported()
    {
        (WorkloadJobQueue queue, IWorkloadScheduler scheduler) = Create(WorkloadJobFullMode.Wait);
        using WorkloadLease held = scheduler.TryAcquire("batch");
        bool ran = false;
        for (int i = 0; i < 3; i++)
        {
            await queue.EnqueueAsync("batch", _ => { ran = true; return ValueTask.CompletedTask; }, $"tenant-{i}").AsTask().WithTimeout();
        }

        await queue.StopAsync(CancellationToken.None).WithTimeout();

        Assert.False(ran);
        Assert.Equal(3, queue.Dropped);
        Assert.Equal(3, _logs.Messages.Count(m => m.Level == LogLevel.Warning && m.Message.Contains("did not run", StringComparison.Ordinal)));
        await Assert.ThrowsAsync<WorkloadRejectedException>(() => queue.EnqueueAsync("batch", _ => ValueTask.CompletedTask).AsTask());
    }

    [Fact]
    public async Task StopAsync_RunningItem_FinishesWithinTheShutdownTimeout()
    {
        (WorkloadJobQueue queue, _) = Create(WorkloadJobFullMode.Wait);
        var gate = new Gate();
        await queue.EnqueueAsync("batch", async _ => await gate.WaitAsync()).AsTask().WithTimeout();
        await gate.Entered.WithTimeout();

        Task stopping = queue.StopAsync(CancellationToken.None);
        Assert.False(stopping.IsCompleted);
        gate.Open();
        await stopping.WithTimeout();

        Assert.Equal((1L, 0L), (queue.Completed, queue.Dropped));
    }

    [Fact]
    public async Task StopAsync_ShutdownTimeoutRunsOut_CancelsTheRunningItem()
    {
        (WorkloadJobQueue queue, _) = Create(WorkloadJobFullMode.Wait);
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await queue.EnqueueAsync("batch", async ct => { started.TrySetResult(); await Task.Delay(Timeout.Infinite, ct); }).AsTask().WithTimeout();
        await started.Task.WithTimeout();
        using var timeout = new CancellationTokenSource();
        await timeout.CancelAsync();

        await queue.StopAsync(timeout.Token).WithTimeout();

        await Eventually.TrueAsync(() => queue.Canceled == 1, "the canceled item ended");
        Assert.Equal(0, queue.Failed);
        Assert.Contains(_logs.Messages, m => m.Message.Contains("was canceled", StringComparison.Ordinal));
    }

    [Fact]
    public async Task SchedulerShutDownFirst_QueuedItemsAreStillReportedAtStop()
    {
        (WorkloadJobQueue queue, IWorkloadScheduler scheduler) = Create(WorkloadJobFullMode.Wait);
        WorkloadLease held = scheduler.TryAcquire("batch");
        await queue.EnqueueAsync("batch", _ => ValueTask.CompletedTask).AsTask().WithTimeout();
        await Eventually.TrueAsync(() => scheduler.GetSnapshot()["batch"].Queued == 1, "the job waits for a seat");

        ((IDisposable)scheduler).Dispose();
        held.Dispose();

        // The lane sees ShuttingDown once and stops asking: it does not spin against a closed scheduler.
        await Task.Delay(TimeSpan.FromMilliseconds(50));
        Assert.Equal(1, scheduler.GetSnapshot()["batch"].Rejected);
        await queue.StopAsync(CancellationToken.None).WithTimeout();

        Assert.Equal((0L, 1L), (queue.Completed, queue.Dropped));
    }

    public async ValueTask DisposeAsync()
    {
        if (_services is not null)
        {
            await _services.DisposeAsync();
        }
    }

    private (WorkloadJobQueue Queue, IWorkloadScheduler Scheduler) Create(WorkloadJobFullMode fullMode, int capacity = 10)
    {
        _services = new ServiceCollection()
            .AddLogging(b => b.AddProvider(_logs))
            .AddWorkloadIsolation(o =>
            {
                o.TotalConcurrency = 1;
                o.DefaultClass = "reporting";
                o.AddClass("reporting", c => { c.Priority = 2; c.QueueTimeout = Timeout.InfiniteTimeSpan; });
                o.AddClass("batch", c => { c.Priority = 3; c.QueueTimeout = Timeout.InfiniteTimeSpan; c.Jobs = new WorkloadJobQueueOptions { Capacity = capacity, FullMode = fullMode }; });
            })
            .Services.BuildServiceProvider();
        return ((WorkloadJobQueue)_services.GetRequiredService<IWorkloadJobQueue>(), _services.GetRequiredService<IWorkloadScheduler>());
    }
}
