using System.Collections.Concurrent;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Bulkhead.Telemetry.Internal;

namespace Bulkhead.Jobs.Internal;

/// <summary>
/// Job items per class, admitted as any work is: each item waits for a seat in its class's queue of the engine (by
/// priority, fair among partitions, within per-partition limits) the moment it is enqueued, and runs on its own once it
/// holds one. The job queue only bounds how many items of a class may wait (<see cref="WorkloadJobQueueOptions.Capacity"/>)
/// and accounts for every item.
/// </summary>
/// <remarks>
/// Every accepted item ends exactly once as completed, failed, canceled or dropped (logged before it is counted). Shutdown (the host's StopAsync, or
/// the service provider's disposal without a host): nothing is accepted any more; every item still waiting is dropped,
/// counted and logged at once; items running finish within the host's shutdown timeout, then their token is canceled
/// and StopAsync returns (it never waits on an item that ignores its token, nor on the clock of a fake TimeProvider).
/// </remarks>
internal sealed partial class WorkloadJobQueue(
    IWorkloadScheduler scheduler,
    IWorkloadIsolationMonitor options,
    TimeProvider timeProvider,
    ILogger<WorkloadJobQueue> logger,
    IServiceScopeFactory? scopes = null,
    JobCounters? counters = null) : IWorkloadJobQueue, IHostedService, IDisposable
{
    private const int Accepting = 0;
    private const int Stopped = 1;
    private const int Disposed = 2;

    // Job types by the method an item runs: one name per method, made once.
    private static readonly ConcurrentDictionary<System.Reflection.MethodInfo, string> JobTypes = new();

    private readonly Lock _gate = new();
    private readonly ConcurrentDictionary<string, Lane> _lanes = new(StringComparer.OrdinalIgnoreCase);
    private readonly ConcurrentDictionary<long, JobItem> _items = new();
    private readonly CancellationTokenSource _stopping = new();
    private readonly CancellationTokenSource _abort = new();
    private readonly JobCounters _counters = counters ?? new JobCounters();
    private long _sequence;
    private int _state;

    /// <summary>Gets the items of every class that ran to completion.</summary>
    public long Completed => _counters.Total(static c => Volatile.Read(ref c.Completed));

    /// <summary>Gets the items of every class that failed.</summary>
    public long Failed => _counters.Total(static c => Volatile.Read(ref c.Failed));

    /// <summary>Gets the items of every class that never ran because the host stopped first.</summary>
    public long Dropped => _counters.Total(static c => Volatile.Read(ref c.Dropped));

    /// <summary>Gets the items of every class canceled when the shutdown timeout ran out.</summary>
    public long Canceled => _counters.Total(static c => Volatile.Read(ref c.Canceled));

    /// <summary>Gets the items accepted and not yet ended (waiting or running).</summary>
    public int Pending => _items.Count;

    public ValueTask EnqueueAsync(string workloadClass, Func<CancellationToken, ValueTask> work, string? partition = null, CancellationToken cancellationToken = default) =>
        EnqueueAsync(workloadClass, work, weight: 1, partition, cancellationToken);

    public ValueTask EnqueueAsync(string workloadClass, Func<CancellationToken, ValueTask> work, int weight, string? partition = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(work);
        return EnqueueAsync(workloadClass, work, weight, partition, work, cancellationToken);
    }

    /// <summary>A job's type, what a class that learns weights learns its cost by: the method the item runs.</summary>
    private static string JobType(Delegate work) =>
        JobTypes.GetOrAdd(work.Method, static method => $"{method.DeclaringType?.FullName}.{method.Name}");

    /// <summary>Queues an item; <paramref name="jobType"/> is the delegate whose method is its job type (the caller's, not a wrapper's).</summary>
    internal async ValueTask EnqueueAsync(string workloadClass, Func<CancellationToken, ValueTask> work, int weight, string? partition, Delegate jobType, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(work);
        ArgumentOutOfRangeException.ThrowIfLessThan(weight, 1);
        WorkloadClass c = scheduler.GetClass(workloadClass);
        ThrowIfNotAccepting(c);
        // The item's job type is what a class that learns weights learns its cost by; an item with a weight of its own has it.
        WorkloadRequest request = weight == 1 ? new WorkloadRequest(partition) { CostKey = JobType(jobType) } : new WorkloadRequest(partition) { Weight = weight };
        if (weight > c.MaxWeight)
        {
            // Refused where it is queued: waiting could never seat it. Its class refuses it at once, and counts that.
            WorkloadLease refused = c.TryAcquire(request);
            if (refused.RejectionReason == WorkloadRejectionReason.WeightTooLarge)
            {
                throw new WorkloadRejectedException(c.Name, WorkloadRejectionReason.WeightTooLarge, retryAfter: null);
            }

            // Any other answer (a reload widened the class meanwhile, a full class, a rate limit) is no reason to refuse
            // the item here: it is queued as any other and waits for its seats.
            refused.Dispose();
        }

        Lane lane = _lanes.GetOrAdd(c.Name, static (_, state) => state.self.CreateLane(state.c), (self: this, c));
        if (!lane.TryTakeRoom())
        {
            if (lane.FullMode == WorkloadJobFullMode.Reject)
            {
                ThrowIfNotAccepting(c);
                throw new WorkloadRejectedException(c.Name, WorkloadRejectionReason.QueueFull, retryAfter: null);
            }

            await WaitForRoomAsync(c, lane, cancellationToken).ConfigureAwait(false);
        }

        lock (_gate)
        {
            if (_state != Accepting)
            {
                lane.ReturnRoom();
                throw new WorkloadRejectedException(c.Name, WorkloadRejectionReason.ShuttingDown, retryAfter: null);
            }

            // Accepted under the gate that shutdown closes: an item is either refused here or seen by shutdown.
            var item = new JobItem(Interlocked.Increment(ref _sequence), c, lane, work, request);
            _items.TryAdd(item.Sequence, item);
            lane.Counts.Accepted();
            item.Run = Start(item);
        }
    }

    public ValueTask EnqueueAsync(string workloadClass, Func<IServiceProvider, CancellationToken, ValueTask> work, string? partition = null, CancellationToken cancellationToken = default) =>
        EnqueueScopedAsync(workloadClass, work, partition, work, cancellationToken);

    /// <summary>Queues an item that uses scoped services, learning its cost by <paramref name="jobType"/>'s method.</summary>
    internal ValueTask EnqueueScopedAsync(string workloadClass, Func<IServiceProvider, CancellationToken, ValueTask> work, string? partition, Delegate jobType, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(work);
        IServiceScopeFactory factory = scopes ?? throw new InvalidOperationException("This job queue was made without services, so it has no scopes to give its items.");
        return EnqueueAsync(workloadClass, ct => RunInScopeAsync(factory, work, ct), weight: 1, partition, jobType, cancellationToken);
    }

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (!Close(Stopped))
        {
            return;
        }

        // Let running items finish within the shutdown timeout, then cancel them.
        Task running = Task.WhenAll(_items.Values.Select(i => i.Run));
        try
        {
            await running.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            await _abort.CancelAsync().ConfigureAwait(false);
            int stillRunning = _items.Values.Count(i => !i.Run.IsCompleted);
            if (stillRunning > 0)
            {
                LogStillRunning(logger, stillRunning);
            }
        }
    }

    public void Dispose()
    {
        // Without a host to stop it (a service provider disposed on its own), nothing waiting is lost silently either.
        if (Close(Disposed))
        {
            _abort.Cancel();
        }
        else
        {
            lock (_gate)
            {
                _state = Disposed;
            }
        }
    }

    /// <summary>Stops accepting; ends every item still waiting as dropped. False when it was already closed.</summary>
    private bool Close(int state)
    {
        lock (_gate)
        {
            if (_state != Accepting)
            {
                return false;
            }

            _state = state;
        }

        // Every item still waiting is reported here, before its wait is canceled, so that all are counted when this
        // returns; then waiting enqueuers are refused and the waits end.
        foreach (JobItem item in _items.Values)
        {
            if (item.TryDrop())
            {
                ReportDropped(item);
            }
        }

        _stopping.Cancel();
        return true;
    }

    private void ThrowIfNotAccepting(WorkloadClass c)
    {
        if (Volatile.Read(ref _state) != Accepting)
        {
            throw new WorkloadRejectedException(c.Name, WorkloadRejectionReason.ShuttingDown, retryAfter: null);
        }
    }

    private async Task WaitForRoomAsync(WorkloadClass c, Lane lane, CancellationToken cancellationToken)
    {
        using var waiting = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _stopping.Token);
        try
        {
            await lane.WaitForRoomAsync(waiting.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new WorkloadRejectedException(c.Name, WorkloadRejectionReason.ShuttingDown, retryAfter: null);
        }
    }

    private Lane CreateLane(WorkloadClass c)
    {
        WorkloadJobQueueOptions jobOptions = options.CurrentValue.Classes.TryGetValue(c.Name, out WorkloadClassOptions? classOptions) && classOptions.Jobs is { } configured
            ? configured
            : new WorkloadJobQueueOptions();
        return new Lane(jobOptions.Capacity, jobOptions.FullMode, _counters.For(c.Name), new WorkloadContext(c.Name));
    }

    /// <summary>
    /// Puts the item in its class's queue now, in the order items are enqueued, and runs it once it holds a seat; never
    /// on the enqueuing thread.
    /// </summary>
    private Task Start(JobItem item)
    {
        Task<WorkloadLease> seat = SeatWaiter.WaitAsync(item.Class, item.Request, timeProvider, onRetry: null, _stopping.Token);
        return seat.IsCompleted ? Task.Run(() => RunAsync(item, seat)) : RunAsync(item, seat);
    }

    private async Task RunAsync(JobItem item, Task<WorkloadLease> seat)
    {
        try
        {
            WorkloadLease lease;
            try
            {
                lease = await seat.ConfigureAwait(false);
            }
            catch (Exception exception)
            {
                // Waiting for a seat failed (a decorated class threw): the item ends as failed, never unaccounted.
                item.Lane.ReturnRoom();
                if (item.TryStart())
                {
                    LogFailed(logger, exception, item.Sequence, item.Class.Name, item.Partition);
                    item.Lane.Counts.Ended(ref item.Lane.Counts.Failed, wasRunning: false);
                }

                return;
            }

            item.Lane.ReturnRoom();
            if (lease.RejectionReason == WorkloadRejectionReason.WeightTooLarge && item.TryStart())
            {
                // The class's limits shrank below the item's weight after it was queued (a reload): it can never run.
                LogFailed(logger, new WorkloadRejectedException(item.Class.Name, WorkloadRejectionReason.WeightTooLarge, retryAfter: null), item.Sequence, item.Class.Name, item.Partition);
                item.Lane.Counts.Ended(ref item.Lane.Counts.Failed, wasRunning: false);
                return;
            }

            if (!lease.IsAcquired || !item.TryStart())
            {
                // Shutting down: the item did not start. Whoever ended its wait first reports it.
                lease.Dispose();
                if (item.TryDrop())
                {
                    ReportDropped(item);
                }

                return;
            }

            JobCounters.ClassCounts counts = item.Lane.Counts;
            counts.Started();
            try
            {
                // The item's code runs for a unit of work of its class (whatever work queued it): the calls it makes through
                // a propagating client say so.
                WorkloadContext.Current = item.Lane.Context;
                await item.Class.ExecuteAsync(lease, static (state, token) => ((JobItem)state!).Work(token).AsTask(), item, _abort.Token).ConfigureAwait(false);
                counts.Ended(ref counts.Completed, wasRunning: true);
            }
            catch (OperationCanceledException) when (_abort.IsCancellationRequested)
            {
                LogCanceled(logger, item.Sequence, item.Class.Name, item.Partition);
                counts.Ended(ref counts.Canceled, wasRunning: true);
            }
            catch (Exception exception)
            {
                // A failing item never takes the host down: it is logged and counted.
                LogFailed(logger, exception, item.Sequence, item.Class.Name, item.Partition);
                counts.Ended(ref counts.Failed, wasRunning: true);
            }
        }
        finally
        {
            _items.TryRemove(item.Sequence, out _);
        }
    }

    private static async ValueTask RunInScopeAsync(IServiceScopeFactory factory, Func<IServiceProvider, CancellationToken, ValueTask> work, CancellationToken cancellationToken)
    {
        AsyncServiceScope scope = factory.CreateAsyncScope();
        await using (scope.ConfigureAwait(false))
        {
            await work(scope.ServiceProvider, cancellationToken).ConfigureAwait(false);
        }
    }

    private void ReportDropped(JobItem item)
    {
        LogDropped(logger, item.Sequence, item.Class.Name, item.Partition);
        item.Lane.Counts.Ended(ref item.Lane.Counts.Dropped, wasRunning: false);
    }

    [LoggerMessage(20, LogLevel.Error, "Job {Sequence} of workload class '{WorkloadClass}' (partition '{Partition}') failed.")]
    private static partial void LogFailed(ILogger logger, Exception exception, long sequence, string workloadClass, string? partition);

    [LoggerMessage(22, LogLevel.Warning, "Job {Sequence} of workload class '{WorkloadClass}' (partition '{Partition}') was canceled: the host's shutdown timeout ran out.")]
    private static partial void LogCanceled(ILogger logger, long sequence, string workloadClass, string? partition);

    [LoggerMessage(21, LogLevel.Warning, "Job {Sequence} of workload class '{WorkloadClass}' (partition '{Partition}') did not run: the host stopped first.")]
    private static partial void LogDropped(ILogger logger, long sequence, string workloadClass, string? partition);

    [LoggerMessage(23, LogLevel.Warning, "{Count} job item(s) still running when the host's shutdown timeout ran out: their tokens are canceled, and their seats are freed when they end.")]
    private static partial void LogStillRunning(ILogger logger, int count);

    /// <summary>One accepted item: waiting for a seat, then running, until it ends once.</summary>
    private sealed class JobItem(long sequence, WorkloadClass workloadClass, Lane lane, Func<CancellationToken, ValueTask> work, WorkloadRequest request)
    {
        private const int Waiting = 0;
        private const int Running = 1;
        private const int DroppedState = 2;

        private int _state;

        public long Sequence { get; } = sequence;

        public WorkloadClass Class { get; } = workloadClass;

        public Lane Lane { get; } = lane;

        public Func<CancellationToken, ValueTask> Work { get; } = work;

        /// <summary>Gets what the item asks of its class: its partition, and its weight or job type.</summary>
        public WorkloadRequest Request { get; } = request;

        public string? Partition => Request.Partition;

        public Task Run { get; set; } = Task.CompletedTask;

        public bool TryStart() => Interlocked.CompareExchange(ref _state, Running, Waiting) == Waiting;

        public bool TryDrop() => Interlocked.CompareExchange(ref _state, DroppedState, Waiting) == Waiting;
    }

    /// <summary>A class's job queue: room for its waiting items, and what enqueuing does when there is none.</summary>
    [System.Diagnostics.CodeAnalysis.SuppressMessage("Design", "CA1001", Justification = "The semaphore's wait handle is never created, so it holds nothing to free; items ending after disposal still return their room.")]
    private sealed class Lane(int capacity, WorkloadJobFullMode fullMode, JobCounters.ClassCounts counts, WorkloadContext context)
    {
        public JobCounters.ClassCounts Counts { get; } = counts;

        /// <summary>Gets the unit of work its items' code runs for (<see cref="WorkloadContext.Current"/>): one of its class, no deadline.</summary>
        public WorkloadContext Context { get; } = context;

        private readonly SemaphoreSlim _room = new(capacity, capacity);

        public WorkloadJobFullMode FullMode { get; } = fullMode;

        public bool TryTakeRoom() => _room.Wait(0);

        public Task WaitForRoomAsync(CancellationToken cancellationToken) => _room.WaitAsync(cancellationToken);

        public void ReturnRoom() => _room.Release();
    }
}
