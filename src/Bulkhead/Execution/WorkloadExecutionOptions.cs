using System.ComponentModel.DataAnnotations;

namespace Bulkhead;

/// <summary>
/// Where a class's work runs: on the .NET ThreadPool, or on threads of its own at a lower operating-system priority, so
/// that blocking or CPU-bound work cannot starve request threads.
/// </summary>
public sealed class WorkloadExecutionOptions
{
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
    /// <value>The default value is <see cref="WorkloadCpuPriority.Normal"/>.</value>
    public WorkloadCpuPriority CpuPriority { get; set; } = WorkloadCpuPriority.Normal;
}
