using System.ComponentModel.DataAnnotations;

namespace Bulkhead;

/// <summary>
/// How a class's work runs: on the .NET ThreadPool, or on threads of its own at a lower operating-system priority, so
/// that blocking or CPU-bound work cannot starve request threads; and how long it may hold its seat.
/// </summary>
public sealed class WorkloadExecutionOptions
{
    /// <summary>
    /// Gets or sets how long a unit of work run by Bulkhead (an HTTP request, <c>RunAsync</c>, a job item, a Polly
    /// execution) may hold its seat before its cancellation token fires; <see langword="null"/> for no limit. The seat is
    /// freed when the work actually ends: code that ignores its token keeps its seat, and shows as overrunning in the
    /// snapshot.
    /// </summary>
    /// <value>The default value is <see langword="null"/>.</value>
    public TimeSpan? Timeout { get; set; }

    /// <summary>
    /// Gets or sets how many threads of its own the class runs its work on; 0 runs it on the ThreadPool.
    /// </summary>
    /// <value>The default value is 0.</value>
    [Range(0, 1024)]
    public int DedicatedThreads { get; set; }

    /// <summary>
    /// Gets or sets the operating-system priority of the dedicated threads. Only those threads are changed: a ThreadPool
    /// thread's priority could not be restored.
    /// </summary>
    /// <value>The default value is <see langword="null"/>: <see cref="WorkloadCpuPriority.Normal"/>, or what the class's <see cref="WorkloadClassOptions.Kind"/> gives.</value>
    public WorkloadCpuPriority? CpuPriority { get; set; }

    /// <summary>
    /// Gets or sets the CPU priority of work from a backlogged partition: a unit of work that leaves the class's queue
    /// while more of its partition's work waits behind it runs on threads of their own at this priority, lower than
    /// <see cref="CpuPriority"/>. A tenant that keeps a backlog is the one sending more than its share; its work then
    /// takes only the CPU that the others leave, while its seats and its turns in the queue stay what fair queuing gives.
    /// A class without partitions counts as one partition. <see langword="null"/> runs every unit alike.
    /// </summary>
    /// <value>The default value is <see langword="null"/>.</value>
    public WorkloadCpuPriority? BackloggedPartitionCpuPriority { get; set; }

    /// <summary>
    /// Gets or sets how many threads run backlogged partitions' work when <see cref="BackloggedPartitionCpuPriority"/>
    /// is set; 0 starts one per processor.
    /// </summary>
    /// <value>The default value is 0.</value>
    [Range(0, 1024)]
    public int BackloggedPartitionThreads { get; set; }
}
