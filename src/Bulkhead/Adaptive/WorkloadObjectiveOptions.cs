namespace Bulkhead;

/// <summary>
/// What a protected class must keep, measured over each window of <see cref="WorkloadAdaptiveOptions.Window"/>: when
/// <see cref="WorkloadAdaptiveOptions.Enabled"/>, Bulkhead lowers the effective <c>MaxConcurrency</c> of the classes
/// less important than this one while it misses an objective, and raises it back while it meets them.
/// </summary>
public sealed class WorkloadObjectiveOptions
{
    /// <summary>
    /// Gets or sets the most the 99th percentile of this class's queue wait may be (work admitted at once waits zero).
    /// </summary>
    /// <value>The default value is <see langword="null"/>: no queue-wait objective.</value>
    public TimeSpan? QueueWaitP99 { get; set; }

    /// <summary>
    /// Gets or sets the most the 99th percentile of this class's seat-holding time (how long its work runs) may be. This
    /// is the objective that sees CPU contention: work of other classes slows this class's work down without making it
    /// wait for a seat. Measuring it reads the clock twice per unit of work of this class.
    /// </summary>
    /// <value>The default value is <see langword="null"/>: no seat-time objective.</value>
    public TimeSpan? SeatTimeP99 { get; set; }
}
