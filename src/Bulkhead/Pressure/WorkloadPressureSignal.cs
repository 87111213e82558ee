namespace Bulkhead;

/// <summary>A signal of the process's pressure that a workload class can be shed by (<see cref="WorkloadShedOptions"/>).</summary>
public enum WorkloadPressureSignal
{
    /// <summary>The process's CPU utilization, of the CPU it may use (a container's CPU quota counted).</summary>
    Cpu,

    /// <summary>The GC heap's memory load, of what the GC may commit (a container's memory limit counted).</summary>
    Memory,
}
