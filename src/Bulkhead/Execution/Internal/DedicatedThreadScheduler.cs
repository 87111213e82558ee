using System.Collections.Concurrent;

namespace Bulkhead.Execution.Internal;

/// <summary>
/// A <see cref="TaskScheduler"/> with threads of its own, named after their class and lowered to the class's CPU
/// priority. Work started on it, and its continuations that do not use <c>ConfigureAwait(false)</c>, stay on its threads.
/// </summary>
/// <remarks>
/// After disposal the threads finish what is queued and stop; anything queued later runs on the ThreadPool, so that a
/// continuation of work still running at shutdown is never lost.
/// </remarks>
internal sealed class DedicatedThreadScheduler : TaskScheduler, IDisposable
{
    private readonly BlockingCollection<Task> _tasks = [];
    private readonly Thread[] _threads;
    private readonly TaskCompletionSource _allStarted = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _disposed;
    private int _lowered;
    private int _started;

    [ThreadStatic]
    private static DedicatedThreadScheduler? t_current;

    public DedicatedThreadScheduler(string workloadClass, int threadCount, WorkloadCpuPriority priority)
    {
        Priority = priority;
        _threads = new Thread[threadCount];
        for (int i = 0; i < threadCount; i++)
        {
            _threads[i] = new Thread(Run)
            {
                IsBackground = true,
                Name = $"Bulkhead {workloadClass} #{i + 1}",
            };
            _threads[i].Start();
        }
    }

    public WorkloadCpuPriority Priority { get; }

    public int ThreadCount => _threads.Length;

    /// <summary>Gets a task that completes once every thread has started and set its priority.</summary>
    public Task AllStarted => _allStarted.Task;

    /// <summary>Gets how many threads lowered their priority as asked (the rest run at normal priority).</summary>
    public int LoweredThreads => Volatile.Read(ref _lowered);

    public override int MaximumConcurrencyLevel => _threads.Length;

    /// <summary>Gets a value indicating whether the calling thread is one of this scheduler's.</summary>
    public bool IsCurrentThreadOwned => t_current == this;

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
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

    private void Run()
    {
        t_current = this;
        if (ThreadPriorities.ApplyToCurrentThread(Priority) && Priority != WorkloadCpuPriority.Normal)
        {
            Interlocked.Increment(ref _lowered);
        }

        if (Interlocked.Increment(ref _started) == _threads.Length)
        {
            _allStarted.TrySetResult();
        }

        foreach (Task task in _tasks.GetConsumingEnumerable())
        {
            TryExecuteTask(task);
        }
    }
}
