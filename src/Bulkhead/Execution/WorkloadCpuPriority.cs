namespace Bulkhead;

/// <summary>
/// The operating-system priority of a class's dedicated threads.
/// </summary>
public enum WorkloadCpuPriority
{
    /// <summary>Unchanged.</summary>
    Normal,

    /// <summary>Somewhat lower: nice 5 on Linux, <see cref="ThreadPriority.BelowNormal"/> on Windows.</summary>
    BelowNormal,

    /// <summary>The lowest ordinary priority: nice 19 on Linux, <see cref="ThreadPriority.Lowest"/> on Windows.</summary>
    Lowest,

    /// <summary>
    /// Runs only when nothing else wants the CPU: <c>SCHED_IDLE</c> on Linux; <see cref="ThreadPriority.Lowest"/> on
    /// Windows, which has no idle class for a single thread.
    /// </summary>
    Idle,
}
