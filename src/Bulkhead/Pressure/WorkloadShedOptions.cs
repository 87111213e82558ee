using System.ComponentModel.DataAnnotations;

namespace Bulkhead;

/// <summary>
/// When a workload class is shed: while the process's CPU utilization or memory load is at or above a threshold, the
/// class's new work is rejected with <see cref="WorkloadRejectionReason.Shed"/>, its waiting work is rejected the same
/// way, and its background work waits. Give less important classes lower thresholds: they are shed first.
/// </summary>
/// <remarks>
/// Work already running keeps its seat. A class shed by a signal is admitted again once the signal falls
/// <see cref="WorkloadPressureOptions.Hysteresis"/> below the threshold. The signals are read every
/// <see cref="WorkloadPressureOptions.Interval"/> (see there for what each measures); docs/pressure.md.
/// </remarks>
public sealed class WorkloadShedOptions
{
    /// <summary>
    /// Gets or sets the process's CPU utilization (0 to 1, of the CPU it may use) at or above which the class is shed;
    /// <see langword="null"/> for no CPU threshold.
    /// </summary>
    /// <value>The default value is <see langword="null"/>.</value>
    [Range(0.01, 1.0)]
    public double? CpuAbove { get; set; }

    /// <summary>
    /// Gets or sets the GC heap's memory load (0 to 1, of what the GC may commit) at or above which the class is shed;
    /// <see langword="null"/> for no memory threshold.
    /// </summary>
    /// <value>The default value is <see langword="null"/>.</value>
    [Range(0.01, 1.0)]
    public double? MemoryAbove { get; set; }
}
