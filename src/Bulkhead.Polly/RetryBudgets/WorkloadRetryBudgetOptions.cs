namespace Bulkhead.Polly;

/// <summary>
/// How many retries a <see cref="WorkloadRetryBudget"/> allows: over any <see cref="Window"/>, at most
/// <c>MinRetriesPerSecond × Window + RetryRatio × calls</c>, where calls are the first attempts made in that window. A
/// dependency that fails every call then sees at most <c>1 + RetryRatio</c> times the calls, not the retry policy's
/// multiple of them. See docs/outgoing.md.
/// </summary>
public sealed class WorkloadRetryBudgetOptions
{
    /// <summary>Gets or sets the retries allowed per call made in the window; at least 0.</summary>
    /// <value>The default value is 0.2 (one retry for every five calls).</value>
    public double RetryRatio { get; set; } = 0.2;

    /// <summary>Gets or sets the retries allowed each second however few calls are made, so that a quiet client may still retry; at least 0.</summary>
    /// <value>The default value is 10.</value>
    public int MinRetriesPerSecond { get; set; } = 10;

    /// <summary>Gets or sets how far back calls and retries are counted; at least a second.</summary>
    /// <value>The default value is 10 seconds.</value>
    public TimeSpan Window { get; set; } = TimeSpan.FromSeconds(10);
}
