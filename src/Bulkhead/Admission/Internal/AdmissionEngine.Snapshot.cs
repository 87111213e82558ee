using Bulkhead.Telemetry.Internal;

namespace Bulkhead.Admission.Internal;

/// <summary>The engine's state as the snapshot shows it, read under the lock.</summary>
internal sealed partial class AdmissionEngine
{
    public WorkloadClassSnapshot[] GetSnapshot(JobCounters? jobs = null)
    {
        lock (_lock)
        {
            ClassState defaultClass = _configuration.DefaultClass;
            return [.. _configuration.Classes
                .Where(c => !c.Limits.Removed || c.InFlight > 0 || c.Queue.Count > 0)
                .Select(c =>
                {
                    ClassLimits limits = c.Limits;
                    return new WorkloadClassSnapshot
                    {
                        Name = c.Name,
                        IsDefault = ReferenceEquals(c, defaultClass),
                        Priority = limits.Priority,
                        InFlight = c.InFlight,
                        Queued = c.Queue.Count,
                        ReservedConcurrency = limits.Reserved,
                        MaxConcurrency = limits.Max,
                        ConfiguredMaxConcurrency = limits.ConfiguredMax,
                        QueueWaitObjective = limits.Objective?.QueueWaitP99,
                        SeatTimeObjective = limits.Objective?.SeatTimeP99,
                        MeasuredQueueWaitP99 = Volatile.Read(ref c.LastQueueWaitP99) is >= 0 and long queueWait ? TimeSpan.FromTicks(queueWait) : null,
                        MeasuredSeatTimeP99 = Volatile.Read(ref c.LastSeatTimeP99) is >= 0 and long seatTime ? TimeSpan.FromTicks(seatTime) : null,
                        QueueLimit = limits.QueueLimit,
                        Admitted = c.Admitted,
                        Rejected = Volatile.Read(ref c.Rejected),
                        RecentRejections = c.RejectionHistory.Read(),
                        Canceled = Volatile.Read(ref c.Canceled),
                        ExecutionTimeout = limits.ExecutionTimeout,
                        ExecutionTimeouts = Volatile.Read(ref c.ExecutionTimeouts),
                        Overrunning = Volatile.Read(ref c.Overrunning),
                        IsDraining = limits.Removed,
                        ShedBy = limits.ShedBy,
                        RejectedByReason = Enum.GetValues<WorkloadRejectionReason>().ToDictionary(r => r, r => Volatile.Read(ref c.RejectedByReason[(int)r])),
                        OldestWaiterAge = c.Queue.OldestEnqueuedTimestamp() is { } oldest ? TimeProvider.GetElapsedTime(oldest) : null,
                        DedicatedThreads = c.Threads?.ThreadCount ?? 0,
                        ThreadStarvations = c.Threads?.Starvations ?? 0,
                        Jobs = jobs?.Read(c.Name) ?? WorkloadJobCounts.None,
                        FleetState = (limits.RateLimiter as IWorkloadFleetLimiter)?.State,
                        Mode = limits.Mode,
                        LearnedWeights = limits.LearnedWeight is { } learned && c.LearnedWeights is { } weights ? weights.Snapshot(learned) : [],
                    };
                })];
        }
    }

    /// <summary>The load of every class in force, read together under the lock: what the adaptive controller judges by.</summary>
    public Dictionary<ClassState, ClassLoad> ReadLoads()
    {
        lock (_lock)
        {
            var loads = new Dictionary<ClassState, ClassLoad>(_configuration.Active.Length);
            foreach (ClassState c in _configuration.Active)
            {
                loads[c] = new ClassLoad(c.Admitted, c.Queue.Count, c.InFlight, c.Limits.Max);
            }

            return loads;
        }
    }
}
