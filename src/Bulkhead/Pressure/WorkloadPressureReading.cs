namespace Bulkhead;

/// <summary>The process's pressure as last read (<see cref="WorkloadSnapshot.Pressure"/>).</summary>
public sealed class WorkloadPressureReading
{
    /// <summary>Gets the process's CPU utilization over the last interval, 0 to 1 of the CPU it may use.</summary>
    public required double CpuUtilization { get; init; }

    /// <summary>Gets the GC heap's memory load, 0 to 1 of what the GC may commit.</summary>
    public required double MemoryLoad { get; init; }

    /// <summary>Gets the bytes the process allocated per second over the last interval.</summary>
    public required double AllocatedBytesPerSecond { get; init; }

    /// <summary>Gets the CPU the process may use, in processors (a container's quota may make it a fraction).</summary>
    public required double CpuCapacity { get; init; }

    /// <summary>Gets how many bytes the GC may commit: the heap hard limit (a container's memory limit sets one), else the machine's memory.</summary>
    public required long MemoryLimitBytes { get; init; }

    /// <summary>Gets when the reading was taken.</summary>
    public required DateTimeOffset ReadAt { get; init; }
}
