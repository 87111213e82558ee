using System.ComponentModel.DataAnnotations;

namespace Bulkhead;

/// <summary>
/// How <see cref="WorkloadAdaptiveAlgorithm.Aimd"/> moves limits: down by a factor when an objective is missed, up by a
/// step when objectives are met with headroom. <see cref="WorkloadAdaptiveAlgorithm.Gradient"/> ignores them.
/// </summary>
public sealed class WorkloadAimdOptions
{
    /// <summary>Gets or sets what a missed objective multiplies the limits by; at least one seat comes off.</summary>
    /// <value>The default value is 0.75.</value>
    [Range(0.1, 0.95)]
    public double DecreaseFactor { get; set; } = 0.75;

    /// <summary>Gets or sets how many seats objectives met with headroom add.</summary>
    /// <value>The default value is 1.</value>
    [Range(1, WorkloadIsolationOptions.MaxSeats)]
    public int IncreaseStep { get; set; } = 1;
}
