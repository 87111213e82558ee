namespace Bulkhead.LoadTest;

/// <summary>How the server protects (or not) its interactive endpoint from the report flood.</summary>
public enum Mode
{
    /// <summary>Interactive requests alone: the baseline.</summary>
    Baseline,

    /// <summary>The report flood, no isolation.</summary>
    NoIsolation,

    /// <summary>ASP.NET Core's rate limiter, a concurrency limiter of 1 permit on the report endpoint.</summary>
    AspNetLimiter1,

    /// <summary>ASP.NET Core's rate limiter, a concurrency limiter of 2 permits (= cores) on the report endpoint.</summary>
    AspNetLimiter2,

    /// <summary>Bulkhead, admission only: the same classes, reports on the ThreadPool (no dedicated threads).</summary>
    BulkheadAdmissionOnly,

    /// <summary>Bulkhead: a reporting class on dedicated threads at nice 19.</summary>
    BulkheadLowest,

    /// <summary>Bulkhead: a reporting class on dedicated SCHED_IDLE threads.</summary>
    BulkheadIdle,

    /// <summary>Cost step: Bulkhead, admission only, the reporting limit tuned for the light reports.</summary>
    StaticTunedLight,

    /// <summary>Cost step: Bulkhead, admission only, the reporting limit tuned for the heavy reports.</summary>
    StaticTunedHeavy,

    /// <summary>Cost step: Bulkhead, admission only, adaptive protection (AIMD) sizing the reporting class.</summary>
    AdaptiveAimd,

    /// <summary>Cost step: Bulkhead, admission only, adaptive protection (gradient) sizing the reporting class.</summary>
    AdaptiveGradient,

    /// <summary>Admin storm: no protection of the admin endpoint.</summary>
    AdminNoIsolation,

    /// <summary>Admin storm: ASP.NET Core's concurrency limiter on the admin endpoint (1 permit, a queue of 20, the rest 503).</summary>
    AdminAspNetLimiter,

    /// <summary>Admin storm: Bulkhead, an admin class of one seat on a dedicated idle-priority thread, a queue of 20.</summary>
    AdminBulkhead,

    /// <summary>Hot tenant: no protection of the tenant report endpoint.</summary>
    TenantNoIsolation,

    /// <summary>Hot tenant: ASP.NET Core's partitioned concurrency limiter, one report per tenant at once.</summary>
    TenantAspNetPartitioned,

    /// <summary>Hot tenant: Bulkhead, a reporting class of two seats, one per tenant, served round robin across tenants.</summary>
    TenantBulkhead,

    /// <summary>Hot tenant: as <see cref="TenantBulkhead"/>, and a backlogged tenant's reports run on idle-priority threads.</summary>
    TenantBulkheadBacklogIdle,

    /// <summary>ThreadPool starvation: no protection of the blocking report endpoint.</summary>
    BlockingNoIsolation,

    /// <summary>ThreadPool starvation: ASP.NET Core's concurrency limiter, 1 permit, on the blocking report endpoint.</summary>
    BlockingAspNetLimiter1,

    /// <summary>ThreadPool starvation: ASP.NET Core's concurrency limiter, 2 permits, on the blocking report endpoint.</summary>
    BlockingAspNetLimiter2,

    /// <summary>ThreadPool starvation: Bulkhead, the reporting class on dedicated threads.</summary>
    BlockingBulkhead,

    /// <summary>Weighted seats: no protection of the shared downstream.</summary>
    WeightedNoIsolation,

    /// <summary>Weighted seats: Bulkhead, every request one seat, no limit of the reporting class's own.</summary>
    WeightedOneSeatEach,

    /// <summary>Weighted seats: Bulkhead, every request one seat, the reporting class's MaxConcurrency tuned by hand.</summary>
    WeightedHandTuned,

    /// <summary>Weighted seats: Bulkhead, a report takes as many seats as it costs; no limit of the reporting class's own.</summary>
    WeightedSeats,

    /// <summary>Shared downstream: the dependency itself, a service of fixed concurrency, first in first out.</summary>
    DownstreamService,

    /// <summary>Shared downstream: interactive calls and reports call the dependency with nothing between.</summary>
    SharedNoIsolation,

    /// <summary>Shared downstream: Polly's concurrency limiter (Http.Resilience) on the reports' HttpClient.</summary>
    SharedPollyLimiter,

    /// <summary>Shared downstream: Bulkhead.Http, the dependency's seats in two outgoing classes.</summary>
    SharedBulkhead,

    /// <summary>Two services: the back service, Bulkhead in front of its workers, taking the class its trusted callers send.</summary>
    BackService,

    /// <summary>Two services: the front service calls the back one without saying which work a call is for.</summary>
    FrontUnpropagated,

    /// <summary>Two services: the front service's client propagates the calling work's class (AddWorkloadPropagation).</summary>
    FrontPropagated,

    /// <summary>Consumer: a plain RabbitMQ.Client consumer drains the report messages, as many at once as cores, on the ThreadPool.</summary>
    ConsumerNoIsolation,

    /// <summary>Consumer: the core's consumer gate over Bulkhead.RabbitMQ's source, the reporting class of kind CpuBound (dedicated threads at Lowest).</summary>
    ConsumerBulkhead,

    /// <summary>Consumer: as <see cref="ConsumerBulkhead"/>, its threads at idle priority (SCHED_IDLE).</summary>
    ConsumerBulkheadIdle,

    /// <summary>Memory pressure: no protection of the report endpoint that holds large arrays, under a 256 MiB heap limit.</summary>
    MemoryNoIsolation,

    /// <summary>Memory pressure: Bulkhead's reporting class with its limits (sized for time, not memory) and no Shed rule.</summary>
    MemoryBulkhead,

    /// <summary>Memory pressure: Bulkhead's reporting class with a limit tuned by hand for the heap limit, and no Shed rule.</summary>
    MemoryHandTuned,

    /// <summary>Memory pressure: as <see cref="MemoryBulkhead"/>, with <c>Shed: { MemoryAbove }</c> on the reporting class.</summary>
    MemoryBulkheadShed,

    /// <summary>Memory pressure: <c>Shed: { MemoryAbove }</c> on a reporting class whose limit is what the heap limit can hold at once.</summary>
    MemoryHeapSizedShed,

    /// <summary>CPU pressure: CPU-heavy reports on the ThreadPool with no protection.</summary>
    CpuNoIsolation,

    /// <summary>CPU pressure: the reporting class on the ThreadPool with a limit tuned by hand for this machine.</summary>
    CpuHandTuned,

    /// <summary>CPU pressure: the reporting class on the ThreadPool with a generous limit and <c>Shed: { CpuAbove }</c>.</summary>
    CpuShed,
}
