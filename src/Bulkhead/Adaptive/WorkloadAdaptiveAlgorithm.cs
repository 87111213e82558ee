namespace Bulkhead;

/// <summary>
/// How the adaptive controller moves the effective limits of the classes below a protected class.
/// </summary>
public enum WorkloadAdaptiveAlgorithm
{
    /// <summary>
    /// Additive increase, multiplicative decrease: a missed objective multiplies the limits by
    /// <see cref="WorkloadAimdOptions.DecreaseFactor"/>; objectives met with headroom add
    /// <see cref="WorkloadAimdOptions.IncreaseStep"/> (both under <see cref="WorkloadAdaptiveOptions.Aimd"/>).
    /// </summary>
    Aimd,

    /// <summary>
    /// In proportion to how far the measure is from the objective (objective ÷ measured, each step clamped to
    /// 0.5–2×), in the spirit of Netflix's Gradient2 and Envoy's adaptive concurrency.
    /// </summary>
    Gradient,
}
