namespace Bulkhead;

/// <summary>What kind of work a class holds, for the settings measured best for it.</summary>
public enum WorkloadKind
{
    /// <summary>No particular kind: the class's settings are only what is configured.</summary>
    General = 0,

    /// <summary>
    /// Work that keeps a processor busy (reports, exports, rendering). Unless the class's
    /// <see cref="WorkloadClassOptions.Execution"/> says where its work runs (a <c>Timeout</c> alone does not), it runs on
    /// one dedicated thread per processor at <see cref="WorkloadCpuPriority.Lowest"/>, and its <see cref="WorkloadClassOptions.MaxConcurrency"/> that many
    /// threads: what docs/jobs.md recommends for CPU-heavy work, on the threads the isolation benchmark's Lowest row runs
    /// its reports on (docs/benchmarks.md).
    /// </summary>
    CpuBound = 1,
}
