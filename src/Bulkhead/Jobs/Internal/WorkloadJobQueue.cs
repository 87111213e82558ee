using System.Collections.Concurrent;
using System.Threading.Channels;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Bulkhead.Jobs.Internal;

/// <summary>
/// A bounded queue of work items per class, and the hosted service that runs them: one loop per class takes the next
/// item, waits for a seat of its class (so classes' items start by priority, as any work does), and starts it.
/// </summary>
/// <remarks>
/// Shutdown: no item is admitted any more; items running finish within the host's shutdown timeout, then their token is
/// canceled; every item still queued is logged and counted as dropped, none lost silently.
/// </remarks>
internal sealed partial class WorkloadJobQueue(
    IWorkloadScheduler scheduler,
    IWorkloadIsolationMonitor options,
    TimeProvider timeProvider,
    ILogger<WorkloadJobQueue> logger) : IWorkloadJobQueue, IHostedService, IDisposable
{
    private readonly ConcurrentDictionary<string, Lane> _lanes = new(StringComparer.OrdinalIgnoreCase);
    private readonly CancellationTokenSource _stopping = new();
    private readonly CancellationTokenSource _abort = new();
    private readonly ConcurrentDictionary<long, Task> _running = new();
    private long _sequence;
    private int _stopped;

    public long Completed;
    public long Failed;
    public long Dropped;
    public long Canceled;

    public async ValueTask EnqueueAsync(string workloadClass, Func<CancellationToken, ValueTask> work, string? partition = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(work);
        WorkloadClass c = scheduler.GetClass(workloadClass);
        if (Volatile.Read(ref _stopped) != 0)
        {
            throw new WorkloadRejectedException(c.Name, WorkloadRejectionReason.ShuttingDown, retryAfter: null);
        }

        Lane lane = _lanes.GetOrAdd(c.Name, static (_, state) => state.self.StartLane(state.c), (self: this, c));
        var item = new JobItem(Interlocked.Increment(ref _sequence), work, partition);
        if (lane.Items.Writer.TryWrite(item))
        {
            return;
        }

        if (lane.FullMode == WorkloadJobFullMode.Reject)
        {
            throw new WorkloadRejectedException(c.Name, WorkloadRejectionReason.QueueFull, retryAfter: null);
        }

        try
        {
            await lane.Items.Writer.WriteAsync(item, cancellationToken).ConfigureAwait(false);
        }
        catch (ChannelClosedException)
        {
            throw new WorkloadRejectedException(c.Name, WorkloadRejectionReason.ShuttingDown, retryAfter: null);
        }
    }

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (Interlocked.Exchange(ref _stopped, 1) != 0)
        {
            return;
        }

        // Stop admitting: no new item, and no queued item starts.
        foreach (Lane lane in _lanes.Values)
        {
            lane.Items.Writer.TryComplete();
        }

        await _stopping.CancelAsync().ConfigureAwait(false);
        await Task.WhenAll(_lanes.Values.Select(l => l.Loop)).ConfigureAwait(false);

        // Let running items finish within the shutdown timeout, then cancel them.
        Task running = Task.WhenAll(_running.Values);
        try
        {
            await running.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            await _abort.CancelAsync().ConfigureAwait(false);
            await running.WaitAsync(TimeSpan.FromSeconds(1), timeProvider, CancellationToken.None).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }

        foreach ((string name, Lane lane) in _lanes)
        {
            while (lane.Items.Reader.TryRead(out JobItem? item))
            {
                Interlocked.Increment(ref Dropped);
                LogDropped(logger, item.Sequence, name, item.Partition);
            }
        }
    }

    public void Dispose()
    {
        _stopping.Dispose();
        _abort.Dispose();
    }

    private Lane StartLane(WorkloadClass c)
    {
        WorkloadJobQueueOptions jobOptions = options.CurrentValue.Classes.TryGetValue(c.Name, out WorkloadClassOptions? classOptions) && classOptions.Jobs is { } configured
            ? configured
            : new WorkloadJobQueueOptions();
        Channel<JobItem> items = Channel.CreateBounded<JobItem>(new BoundedChannelOptions(jobOptions.Capacity)
        {
            SingleReader = true,
            FullMode = BoundedChannelFullMode.Wait,
        });
        var lane = new Lane(items, jobOptions.FullMode);
        lane.Loop = Task.Run(() => RunLaneAsync(c, items.Reader));
        return lane;
    }

    private async Task RunLaneAsync(WorkloadClass c, ChannelReader<JobItem> reader)
    {
        CancellationToken stopping = _stopping.Token;
        try
        {
            while (await reader.WaitToReadAsync(stopping).ConfigureAwait(false))
            {
                string? partition = reader.TryPeek(out JobItem? next) ? next.Partition : null;
                WorkloadLease lease = await SeatWaiter.WaitAsync(c, partition, timeProvider, onRetry: null, stopping).ConfigureAwait(false);
                if (!lease.IsAcquired)
                {
                    // Stopping, or the scheduler is shutting down: what is still queued is reported by StopAsync.
                    return;
                }

                if (!reader.TryRead(out JobItem? item))
                {
                    lease.Dispose();
                    continue;
                }

                // Tracked while it runs, whichever of start and completion comes first (RunItemAsync untracks it).
                Task run = RunItemAsync(c, item, lease);
                _running.TryAdd(item.Sequence, run);
                if (run.IsCompleted)
                {
                    _running.TryRemove(item.Sequence, out _);
                }
            }
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
            // Shutting down: what is still queued is reported by StopAsync.
        }
    }

    private async Task RunItemAsync(WorkloadClass c, JobItem item, WorkloadLease lease)
    {
        using (lease)
        {
            try
            {
                await c.ExecuteAsync(lease, static (item, token) => ((JobItem)item!).Work(token).AsTask(), item, _abort.Token).ConfigureAwait(false);
                Interlocked.Increment(ref Completed);
            }
            catch (OperationCanceledException) when (_abort.IsCancellationRequested)
            {
                Interlocked.Increment(ref Canceled);
                LogCanceled(logger, item.Sequence, c.Name, item.Partition);
            }
            catch (Exception exception)
            {
                // A failing item never takes the host down: it is logged and counted.
                Interlocked.Increment(ref Failed);
                LogFailed(logger, exception, item.Sequence, c.Name, item.Partition);
            }
            finally
            {
                _running.TryRemove(item.Sequence, out _);
            }
        }
    }

    [LoggerMessage(20, LogLevel.Error, "Job {Sequence} of workload class '{WorkloadClass}' (partition '{Partition}') failed.")]
    private static partial void LogFailed(ILogger logger, Exception exception, long sequence, string workloadClass, string? partition);

    [LoggerMessage(22, LogLevel.Warning, "Job {Sequence} of workload class '{WorkloadClass}' (partition '{Partition}') was canceled: the host's shutdown timeout ran out.")]
    private static partial void LogCanceled(ILogger logger, long sequence, string workloadClass, string? partition);

    [LoggerMessage(21, LogLevel.Warning, "Job {Sequence} of workload class '{WorkloadClass}' (partition '{Partition}') did not run: the host stopped first.")]
    private static partial void LogDropped(ILogger logger, long sequence, string workloadClass, string? partition);

    private sealed record JobItem(long Sequence, Func<CancellationToken, ValueTask> Work, string? Partition);

    private sealed class Lane(Channel<JobItem> items, WorkloadJobFullMode fullMode)
    {
        public Channel<JobItem> Items { get; } = items;

        public WorkloadJobFullMode FullMode { get; } = fullMode;

        public Task Loop { get; set; } = Task.CompletedTask;
    }
}
