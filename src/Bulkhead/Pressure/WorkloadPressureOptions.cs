using System.ComponentModel.DataAnnotations;

namespace Bulkhead;

/// <summary>
/// How the process's pressure is read for the classes that shed under it (<see cref="WorkloadClassOptions.Shed"/>):
/// how often, and how far a signal must fall before a class shed by it is admitted again.
/// </summary>
/// <remarks>
/// Nothing is read while no class has a <c>Shed</c> rule. CPU utilization is the process's CPU time over the last
/// <see cref="Interval"/> as a fraction of the CPU it may use: the container's CPU quota where one is set (cgroup v1 or
/// v2), else the processors it may run on. Memory load is the GC heap (what it has committed, or more when more is
/// allocated since the last collection) as a fraction of what the GC may commit: the heap hard limit, which a
/// container's memory limit sets (75 % of it by default), else the machine's memory. See docs/pressure.md.
/// </remarks>
public sealed class WorkloadPressureOptions
{
    /// <summary>Gets or sets how often CPU and memory are read; CPU utilization is measured over it. From 10 ms to a minute.</summary>
    /// <value>The default value is one second.</value>
    public TimeSpan Interval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// Gets or sets how far below a class's threshold a signal must fall before the class, shed because the signal
    /// reached the threshold, is admitted again (a fraction: 0.05 is five points of CPU utilization or memory load).
    /// </summary>
    /// <value>The default value is 0.05.</value>
    [Range(0.0, 0.5)]
    public double Hysteresis { get; set; } = 0.05;
}
