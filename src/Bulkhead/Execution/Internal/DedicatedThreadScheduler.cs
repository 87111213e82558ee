using System.Collections.Concurrent;
using Bulkhead.Timing.Internal;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Bulkhead.Execution.Internal;

/// <summary>
/// A <see cref="TaskScheduler"/> with threads of its own, named after their class and lowered to the class's CPU
/// priority. Work started on it, and its continuations that do not use <c>ConfigureAwait(false)</c>, stay on its threads.
/// </summary>
/// <remarks>
/// <para>
/// After disposal the threads finish what is queued and stop; anything queued later runs on the ThreadPool, so that a
/// continuation of work still running at shutdown is never lost.
/// </para>
/// <para>
/// Starvation: a fixed set of threads cannot grow as the ThreadPool does, so work that waits synchronously (<c>.Result</c>,
/// <c>.Wait()</c>) for work queued behind it on the same threads would block them forever. A watchdog on the
/// TimeProvider finds every thread busy, work waiting, and nothing completed for a whole <see cref="WatchInterval"/>;
/// it counts the starvation, logs it, and adds a thread, up to as many again as configured (then it only reports).
/// Added threads stay until the class's threads stop.
/// </para>
/// </remarks>
internal sealed partial class DedicatedThreadScheduler : TaskScheduler, IDisposable
{
    /// <summary>How long every thread must stay blocked, with work waiting and none completing, to count as starved.</summary>
    public static readonly TimeSpan WatchInterval = TimeSpan.FromSeconds(1);

    private readonly BlockingCollection<Task> _tasks = [];
    private readonly TaskCompletionSource _allStarted = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly string _workloadClass;
    private readonly string _threadName;
    private readonly int _configuredThreads;
    private readonly ILogger _logger;
    private readonly ITimer? _watchdog;
    private readonly TimerFaults? _faults;
    private int _threadCount;
    private int _disposed;
    private int _lowered;
    private int _started;
    private int _busy;
    private long _executed;
    private long _executedAtLastCheck = -1;
    private long _starvations;
    private bool _starvedAtLastCheck;

    [ThreadStatic]
    private static DedicatedThreadScheduler? t_current;

    /// <param name="workloadClass">The class the threads run work of, for their names and logs.</param>
    /// <param name="threadCount">How many threads to start.</param>
    /// <param name="priority">The CPU priority the threads lower themselves to.</param>
    /// <param name="timeProvider">The watchdog's clock; <see langword="null"/> for no watchdog.</param>
    /// <param name="logger">Where starvation and advice are logged.</param>
    /// <param name="threadPoolSpins">Whether the process's ThreadPool workers spin before they sleep; <see langword="null"/> reads it (<see cref="ThreadPoolSpinning.IsOn()"/>).</param>
    /// <param name="threadName">What the threads are named after (<c>Bulkhead {threadName} #1</c>); the class's name when <see langword="null"/>.</param>
    /// <param name="processorCount">The processors the threads share; <see langword="null"/> for <see cref="Environment.ProcessorCount"/>.</param>
    public DedicatedThreadScheduler(string workloadClass, int threadCount, WorkloadCpuPriority priority, TimeProvider? timeProvider = null, ILogger? logger = null, bool? threadPoolSpins = null, string? threadName = null, int? processorCount = null)
    {
        Priority = priority;
        _workloadClass = workloadClass;
        _threadName = threadName ?? workloadClass;
        _configuredThreads = threadCount;
        _logger = logger ?? NullLogger.Instance;
        for (int i = 0; i < threadCount; i++)
        {
            AddThread();
        }

        if (priority != WorkloadCpuPriority.Normal && (threadPoolSpins ?? ThreadPoolSpinning.IsOn()))
        {
            LogThreadPoolSpins(_logger, workloadClass, threadCount, priority, ThreadPoolSpinning.ConfigName);
        }

        int processors = processorCount ?? Environment.ProcessorCount;
        if (priority != WorkloadCpuPriority.Normal && threadCount > processors)
        {
            LogMoreThreadsThanProcessors(_logger, workloadClass, threadCount, priority, processors);
        }

        if (timeProvider is not null)
        {
            _faults = new TimerFaults(_logger, timeProvider);
            _watchdog = timeProvider.CreateTimer(static state => ((DedicatedThreadScheduler)state!).WatchGuarded(), this, WatchInterval, WatchInterval);
        }
    }

    public WorkloadCpuPriority Priority { get; }

    /// <summary>Gets how many threads were configured (the watchdog may add more).</summary>
    public int ConfiguredThreads => _configuredThreads;

    /// <summary>Gets the threads now: those configured, and any added to recover from starvation.</summary>
    public int ThreadCount => Volatile.Read(ref _threadCount);

    /// <summary>Gets how many times the watchdog found every thread blocked while work waited.</summary>
    public long Starvations => Volatile.Read(ref _starvations);

    /// <summary>Gets a task that completes once every configured thread has started and set its priority.</summary>
    public Task AllStarted => _allStarted.Task;

    /// <summary>Gets how many threads lowered their priority as asked (the rest run at normal priority).</summary>
    public int LoweredThreads => Volatile.Read(ref _lowered);

    public override int MaximumConcurrencyLevel => ThreadCount;

    /// <summary>Gets a value indicating whether the calling thread is one of this scheduler's.</summary>
    public bool IsCurrentThreadOwned => t_current == this;

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            _watchdog?.Dispose();
            _tasks.CompleteAdding();
        }
    }

    protected override void QueueTask(Task task)
    {
        if (Volatile.Read(ref _disposed) == 0)
        {
            try
            {
                _tasks.Add(task);
                return;
            }
            catch (InvalidOperationException)
            {
                // Disposed meanwhile: fall through to the ThreadPool.
            }
        }

        ThreadPool.UnsafeQueueUserWorkItem(static state => state.Scheduler.TryExecuteTask(state.Task), (Scheduler: this, Task: task), preferLocal: false);
    }

    protected override bool TryExecuteTaskInline(Task task, bool taskWasPreviouslyQueued) =>
        t_current == this && TryExecuteTask(task);

    protected override IEnumerable<Task> GetScheduledTasks() => _tasks.ToArray();

    private void AddThread()
    {
        int number = Interlocked.Increment(ref _threadCount);
        new Thread(Run)
        {
            IsBackground = true,
            Name = $"Bulkhead {_threadName} #{number}",
        }.Start();
    }

    /// <summary>Runs every <see cref="WatchInterval"/>: starved when all threads stayed busy, work waited and none completed.</summary>
    private void WatchGuarded() => _faults!.Run("dedicated threads' watchdog", static state => ((DedicatedThreadScheduler)state!).Watch(), this);

    private void Watch()
    {
        long executed = Volatile.Read(ref _executed);
        bool starved = Volatile.Read(ref _disposed) == 0
            && _tasks.Count > 0
            && Volatile.Read(ref _busy) >= ThreadCount
            && executed == _executedAtLastCheck;
        _executedAtLastCheck = executed;
        if (!starved)
        {
            _starvedAtLastCheck = false;
            return;
        }

        if (ThreadCount < 2 * _configuredThreads)
        {
            Interlocked.Increment(ref _starvations);
            AddThread();
            LogStarvedThreadAdded(_logger, _workloadClass, ThreadCount - 1, _tasks.Count, ThreadCount, 2 * _configuredThreads);
        }
        else if (!_starvedAtLastCheck)
        {
            Interlocked.Increment(ref _starvations);
            LogStarved(_logger, _workloadClass, ThreadCount, _tasks.Count);
        }

        _starvedAtLastCheck = true;
    }

    private void Run()
    {
        t_current = this;
        if (ThreadPriorities.ApplyToCurrentThread(Priority) && Priority != WorkloadCpuPriority.Normal)
        {
            Interlocked.Increment(ref _lowered);
        }

        if (Interlocked.Increment(ref _started) == _configuredThreads)
        {
            _allStarted.TrySetResult();
        }

        foreach (Task task in _tasks.GetConsumingEnumerable())
        {
            Interlocked.Increment(ref _busy);
            TryExecuteTask(task);
            Interlocked.Decrement(ref _busy);
            Interlocked.Increment(ref _executed);
        }
    }

    [LoggerMessage(42, LogLevel.Information, "Workload class '{WorkloadClass}' runs on {Threads} dedicated thread(s) at CpuPriority {CpuPriority}, while idle ThreadPool workers spin at normal priority before they sleep and take CPU from them. Set the runtime property {Property} to 0 (or DOTNET_ThreadPool_UnfairSemaphoreSpinLimit=0) to give it back.")]
    private static partial void LogThreadPoolSpins(ILogger logger, string workloadClass, int threads, WorkloadCpuPriority cpuPriority, string property);

    [LoggerMessage(43, LogLevel.Information, "Workload class '{WorkloadClass}' runs on {Threads} dedicated threads at CpuPriority {CpuPriority}, more than the {Processors} processors. CPU-heavy work gains nothing from more threads than processors, and each one running makes the normal-priority threads that wake beside it wait longer for a processor. Give the class one thread per processor unless its work blocks its threads.")]
    private static partial void LogMoreThreadsThanProcessors(ILogger logger, string workloadClass, int threads, WorkloadCpuPriority cpuPriority, int processors);

    [LoggerMessage(40, LogLevel.Warning, "All {Busy} dedicated threads of workload class '{WorkloadClass}' have been blocked for a second while {Waiting} work item(s) wait for one: work on them probably waits synchronously (.Result, .Wait()) for work queued behind it. Added a thread ({Threads} of at most {Most}); await instead of blocking.")]
    private static partial void LogStarvedThreadAdded(ILogger logger, string workloadClass, int busy, int waiting, int threads, int most);

    [LoggerMessage(41, LogLevel.Error, "All {Threads} dedicated threads of workload class '{WorkloadClass}' are blocked while {Waiting} work item(s) wait for one, and no more threads may be added: the class is stalled until work on them ends. Work on dedicated threads must not wait synchronously for other work of its class.")]
    private static partial void LogStarved(ILogger logger, string workloadClass, int threads, int waiting);
}
