using System.ComponentModel.DataAnnotations;

namespace Bulkhead;

/// <summary>
/// A token-bucket rate limit on a workload class, or on each partition of it. Work over the rate is rejected at once
/// with <see cref="WorkloadRejectionReason.RateLimited"/> and a retry-after hint; it never waits for or holds a seat.
/// </summary>
public sealed class WorkloadRateLimitOptions
{
    /// <summary>Gets or sets the rate at which permits are replenished, continuously.</summary>
    /// <value>The default value is 0, which is invalid: a rate limit must set its rate.</value>
    [Range(0.001, 1_000_000_000)]
    public double PermitsPerSecond { get; set; }

    /// <summary>
    /// Gets or sets how many permits the bucket holds: the most units of work admitted at once after a quiet period.
    /// <see langword="null"/> means one second's worth of permits (at least 1).
    /// </summary>
    /// <value>The default value is <see langword="null"/>.</value>
    [Range(1, int.MaxValue)]
    public int? Burst { get; set; }

    /// <summary>
    /// Gets or sets a value indicating whether each partition (tenant, user, key) has its own bucket instead of the
    /// class sharing one.
    /// </summary>
    /// <value>The default value is <see langword="false"/>.</value>
    public bool PerPartition { get; set; }
}
