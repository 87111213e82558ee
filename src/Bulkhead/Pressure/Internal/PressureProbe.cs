using System.Diagnostics;

namespace Bulkhead.Pressure.Internal;

/// <summary>Reads the process's pressure: its CPU utilization against its CPU capacity, and its GC heap against what the GC may commit.</summary>
/// <remarks>Tests give the monitor a probe of their own, so that what sheds is decided on fake time from values they choose.</remarks>
internal class PressureProbe
{
    private readonly double _capacity;
    private long _lastTimestamp;
    private TimeSpan _lastCpu;
    private long _lastAllocated;
    private int _lastFullCollections = -1;
    private long _lastFullCollectionSeenAt;

    public PressureProbe()
        : this(CgroupCpu.Capacity())
    {
    }

    /// <summary>Starts measuring from now, against <paramref name="capacity"/> processors.</summary>
    protected PressureProbe(double capacity)
    {
        _capacity = capacity;
        _lastTimestamp = Stopwatch.GetTimestamp();
        _lastCpu = Environment.CpuUsage.TotalTime;
        _lastAllocated = GC.GetTotalAllocatedBytes(precise: false);
    }

    /// <summary>Reads the pressure since the last reading (since the probe was made, the first time).</summary>
    public virtual PressureSample Read()
    {
        long now = Stopwatch.GetTimestamp();
        TimeSpan cpu = Environment.CpuUsage.TotalTime;
        long allocated = GC.GetTotalAllocatedBytes(precise: false);
        double seconds = Stopwatch.GetElapsedTime(_lastTimestamp, now).TotalSeconds;
        double utilization = seconds > 0 ? (cpu - _lastCpu).TotalSeconds / (seconds * _capacity) : 0;
        double allocationRate = seconds > 0 ? (allocated - _lastAllocated) / seconds : 0;
        (_lastTimestamp, _lastCpu, _lastAllocated) = (now, cpu, allocated);

        // What the GC may commit: the heap hard limit (set directly, or by a container's memory limit), else the
        // machine's memory. The heap is what the last collection left and what has been allocated since: an
        // allocating burst between collections is pressure too. (What the GC has committed is not: it keeps memory
        // committed long after the objects in it died.)
        long limit = GC.GetGCMemoryInfo().TotalAvailableMemoryBytes;
        long heap = GC.GetTotalMemory(forceFullCollection: false);
        double memory = limit > 0 ? (double)heap / limit : 0;
        return new PressureSample(Math.Clamp(utilization, 0, 1), Math.Clamp(memory, 0, 1), Math.Max(0, allocationRate), _capacity, limit);
    }

    /// <summary>
    /// Called while a class is shed by memory: objects that died since the GC last collected the large-object heap are
    /// counted until it next does, and while a class is shed little may be allocated to make it, so the class could stay
    /// shed for good. Asks for a background full collection (concurrent: the process's threads go on) when the GC has
    /// run none for <paramref name="after"/>.
    /// </summary>
    /// <param name="after">How long the GC must have run no full collection before one is asked for.</param>
    public virtual void Reclaim(TimeSpan after)
    {
        int full = GC.CollectionCount(GC.MaxGeneration);
        long now = Stopwatch.GetTimestamp();
        if (full != _lastFullCollections)
        {
            (_lastFullCollections, _lastFullCollectionSeenAt) = (full, now);
            return;
        }

        if (Stopwatch.GetElapsedTime(_lastFullCollectionSeenAt, now) >= after)
        {
            GC.Collect(GC.MaxGeneration, GCCollectionMode.Forced, blocking: false);
            _lastFullCollectionSeenAt = now;
        }
    }
}
