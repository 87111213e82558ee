namespace Bulkhead.LoadTest;

/// <summary>What the load test measures.</summary>
public enum Scenario
{
    /// <summary>An interactive endpoint's latency under a flood of CPU-heavy reports, mode by mode.</summary>
    Isolation,

    /// <summary>
    /// Adaptive protection: a report flood whose CPU cost per request doubles halfway through each run, against static
    /// limits tuned for either half.
    /// </summary>
    CostStep,

    /// <summary>
    /// Fleet-wide limits on a real redis-server: Redis round trips per admission and the time an admission takes, batched
    /// and one call per admission, against the same limits held locally.
    /// </summary>
    Fleet,

    /// <summary>A burst of expensive admin calls at once while interactive traffic runs.</summary>
    AdminStorm,

    /// <summary>Ten tenants share the reporting class; one sends ten times what the others do.</summary>
    HotTenant,

    /// <summary>Reports that block their thread on I/O (sync over async) starve the ThreadPool.</summary>
    Starvation,

    /// <summary>Reports that cost 40 times an interactive call on a shared downstream: weighted seats against one seat per request.</summary>
    Weighted,

    /// <summary>The headline's report flood while many clients hammer an endpoint that refuses them, each retrying at once.</summary>
    RejectionStorm,

    /// <summary>
    /// Interactive calls and a report flood call one dependency (a service of fixed concurrency in a process of its own)
    /// through HttpClient: outgoing classes against no isolation and Polly's concurrency limiter.
    /// </summary>
    SharedDownstream,

    /// <summary>
    /// A report flood enters a front service whose requests call a back service: the back service protects the front's
    /// interactive calls only when the front says which calls a report makes (propagation).
    /// </summary>
    TwoServices,

    /// <summary>
    /// Background work off a real broker: the process drains a backlog of CPU-heavy report messages from a real
    /// rabbitmq-server while its interactive endpoint is measured.
    /// </summary>
    Consumer,

    /// <summary>
    /// Shedding under pressure: a report flood that would take the GC heap past its limit (memory), and CPU-heavy reports
    /// on the ThreadPool (CPU), against Bulkhead's Shed rules.
    /// </summary>
    Pressure,

    /// <summary>Every scenario in turn, each in a short form (what <c>--quick</c> runs when no scenario is named).</summary>
    All,
}
