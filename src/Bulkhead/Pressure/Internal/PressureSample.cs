namespace Bulkhead.Pressure.Internal;

/// <summary>One reading of the process's pressure, as a <see cref="PressureProbe"/> takes it.</summary>
/// <param name="Cpu">CPU utilization over the interval since the last reading, 0 to 1 of <paramref name="CpuCapacity"/>.</param>
/// <param name="Memory">The GC heap's load, 0 to 1 of <paramref name="MemoryLimitBytes"/>.</param>
/// <param name="AllocatedBytesPerSecond">Bytes allocated per second since the last reading.</param>
/// <param name="CpuCapacity">The CPU the process may use, in processors.</param>
/// <param name="MemoryLimitBytes">What the GC may commit, in bytes (0 before it first collected).</param>
internal readonly record struct PressureSample(double Cpu, double Memory, double AllocatedBytesPerSecond, double CpuCapacity, long MemoryLimitBytes);
