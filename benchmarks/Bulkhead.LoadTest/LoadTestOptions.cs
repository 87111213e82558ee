namespace Bulkhead.LoadTest;

/// <summary>What the load test runs: phase length, rates, repetitions, modes and where results go.</summary>
public sealed record LoadTestOptions
{
    public TimeSpan Duration { get; init; } = TimeSpan.FromSeconds(10);

    public int InteractiveRate { get; init; } = 100;

    public int ReportClients { get; init; } = 16;

    public int Repetitions { get; init; } = 3;

    public IReadOnlyList<Mode> Modes { get; init; } = [Mode.NoIsolation, Mode.AspNetLimiter1, Mode.AspNetLimiter2, Mode.BulkheadAdmissionOnly, Mode.BulkheadLowest, Mode.BulkheadIdle];

    public string OutputDirectory { get; init; } = "artifacts/loadtest";

    public bool Chart { get; init; } = true;

    /// <summary>Gets which scenario runs: the isolation benchmark, or the cost step of adaptive protection.</summary>
    public Scenario Scenario { get; init; } = Scenario.Isolation;

    /// <summary>Gets the cost step's modes.</summary>
    public IReadOnlyList<Mode> CostStepModes { get; init; } = [Mode.StaticTunedLight, Mode.StaticTunedHeavy, Mode.AdaptiveAimd, Mode.AdaptiveGradient];

    /// <summary>Gets the static reporting limit tuned for the light reports (cost step).</summary>
    public int LightLimit { get; init; } = 6;

    /// <summary>Gets the static reporting limit tuned for the heavy reports (cost step).</summary>
    public int HeavyLimit { get; init; } = 3;

    /// <summary>Gets the interactive class's seat-time objective, p99, in milliseconds (cost step, adaptive modes; 0 for none).</summary>
    public double SeatObjectiveMs { get; init; }

    /// <summary>Gets the process's ThreadPool delay objective, p99, in milliseconds (cost step, adaptive modes; 0 for none).</summary>
    public double PoolObjectiveMs { get; init; } = 2;

    /// <summary>Gets how long each half of the cost step runs before it is measured, for every mode alike.</summary>
    public TimeSpan Settle { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>
    /// Gets a value indicating whether the cost step's cost is in a shared downstream (a pool of 64 units that
    /// interactive calls use too) instead of the CPU: the harm then grows with the reports admitted.
    /// </summary>
    public bool CostStepDownstream { get; init; }

    /// <summary>
    /// Gets how many idle-priority threads of its own (<c>Execution</c>) the cost step's reporting class runs reports on,
    /// as docs/jobs.md recommends for CPU-heavy classes; 0 for the ThreadPool.
    /// </summary>
    public int CostStepThreads { get; init; }

    /// <summary>Gets the await between a cost-step report's two halves of CPU, in milliseconds.</summary>
    public int ReportAwaitMs { get; init; } = 20;

    /// <summary>Gets a light cost-step report's CPU, in milliseconds, half on either side of its await; the step doubles it.</summary>
    public double ReportCpuMs { get; init; } = 10;

    /// <summary>Gets the adaptive controller's headroom in the cost step (the library's default, 0.8, unless set).</summary>
    public double Headroom { get; init; } = 0.8;

    /// <summary>Gets the rejection storm's modes.</summary>
    public IReadOnlyList<Mode> RejectionStormModes { get; init; } = [Mode.AspNetLimiter2, Mode.BulkheadLowest, Mode.BulkheadIdle];

    /// <summary>Gets how many closed-loop clients call the refusing endpoint in the rejection storm.</summary>
    public int StormClients { get; init; } = 64;

    /// <summary>Gets the admin storm's modes.</summary>
    public IReadOnlyList<Mode> AdminStormModes { get; init; } = [Mode.AdminNoIsolation, Mode.AdminAspNetLimiter, Mode.AdminBulkhead];

    /// <summary>Gets how many admin calls arrive at once in the admin storm.</summary>
    public int AdminStormCalls { get; init; } = 200;

    /// <summary>Gets a value indicating whether the admin storm hits a fresh server, with no small storm first to warm it up.</summary>
    public bool Cold { get; init; }

    /// <summary>Gets the hot tenant's modes.</summary>
    public IReadOnlyList<Mode> HotTenantModes { get; init; } = [Mode.TenantNoIsolation, Mode.TenantAspNetPartitioned, Mode.TenantBulkhead, Mode.TenantBulkheadBacklogIdle];

    /// <summary>Gets each quiet tenant's rate in the hot tenant scenario, requests/s; the hot tenant sends ten times this.</summary>
    public double TenantRate { get; init; } = 4;

    /// <summary>Gets the ThreadPool starvation's modes.</summary>
    public IReadOnlyList<Mode> StarvationModes { get; init; } = [Mode.BlockingNoIsolation, Mode.BlockingAspNetLimiter1, Mode.BlockingAspNetLimiter2, Mode.BlockingBulkhead];

    /// <summary>Gets the weighted-seats scenario's modes.</summary>
    public IReadOnlyList<Mode> WeightedModes { get; init; } = [Mode.WeightedNoIsolation, Mode.WeightedOneSeatEach, Mode.WeightedHandTuned, Mode.WeightedSeats];

    /// <summary>Gets the shared-downstream scenario's modes.</summary>
    public IReadOnlyList<Mode> SharedDownstreamModes { get; init; } = [Mode.SharedNoIsolation, Mode.SharedPollyLimiter, Mode.SharedBulkhead];

    public IReadOnlyList<Mode> TwoServicesModes { get; init; } = [Mode.FrontUnpropagated, Mode.FrontPropagated];

    /// <summary>Gets the pressure scenario's modes.</summary>
    public IReadOnlyList<Mode> PressureModes { get; init; } = [Mode.MemoryNoIsolation, Mode.MemoryBulkhead, Mode.MemoryHandTuned, Mode.MemoryBulkheadShed, Mode.MemoryHeapSizedShed, Mode.CpuNoIsolation, Mode.CpuHandTuned, Mode.CpuShed];

    /// <summary>Gets the consumer scenario's modes.</summary>
    public IReadOnlyList<Mode> ConsumerModes { get; init; } = [Mode.ConsumerNoIsolation, Mode.ConsumerBulkhead, Mode.ConsumerBulkheadIdle];

    /// <summary>
    /// The cost step's downstream variant: the reports' cost in a shared downstream; static limits 3 (light) and 1
    /// (heavy), an interactive seat-time objective of 10 ms and no ThreadPool objective; 4 s to settle each half.
    /// </summary>
    public LoadTestOptions WithCostStepDownstream() => this with
    {
        CostStepDownstream = true,
        LightLimit = 3,
        HeavyLimit = 1,
        SeatObjectiveMs = 10,
        PoolObjectiveMs = 0,
        Settle = Settle > TimeSpan.FromSeconds(2) || Duration < TimeSpan.FromSeconds(3) ? Settle : TimeSpan.FromSeconds(4),
    };

    /// <summary>The quick form: one repetition of 4-second phases, under a minute for every mode.</summary>
    public static LoadTestOptions Quick => new() { Duration = TimeSpan.FromSeconds(3), Repetitions = 1 };
}
