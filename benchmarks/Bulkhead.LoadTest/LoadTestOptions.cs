namespace Bulkhead.LoadTest;

/// <summary>What the load test runs: phase length, rates, repetitions, modes and where results go.</summary>
public sealed record LoadTestOptions
{
    public TimeSpan Duration { get; init; } = TimeSpan.FromSeconds(10);

    public int InteractiveRate { get; init; } = 100;

    public int ReportClients { get; init; } = 16;

    public int Repetitions { get; init; } = 3;

    public IReadOnlyList<Mode> Modes { get; init; } = [Mode.NoIsolation, Mode.AspNetLimiter1, Mode.AspNetLimiter2, Mode.BulkheadLowest, Mode.BulkheadIdle];

    public string OutputDirectory { get; init; } = "artifacts/loadtest";

    public bool Chart { get; init; } = true;

    /// <summary>The quick form: one repetition of 4-second phases, under a minute for every mode.</summary>
    public static LoadTestOptions Quick => new() { Duration = TimeSpan.FromSeconds(3), Repetitions = 1 };
}
