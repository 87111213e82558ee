using System.ComponentModel.DataAnnotations;

namespace Bulkhead;

/// <summary>
/// Adaptive protection: classes state objectives (<see cref="WorkloadClassOptions.Objective"/>) and Bulkhead sizes the
/// less important classes to keep them. Off by default.
/// </summary>
/// <remarks>
/// The controller moves each less important class's effective <c>MaxConcurrency</c> between its
/// <c>ReservedConcurrency</c> and its configured <c>MaxConcurrency</c>, never outside. Every window it takes the 99th
/// percentiles of the protected classes' measures (once a window holds <see cref="MinSamples"/> of them; a window with
/// none counts as met); a missed objective lowers the limits of every class less important than the class that missed
/// it, at once; objectives met with <see cref="Headroom"/> for two windows in a row raise the limits of classes that use
/// all of theirs (work waiting, or every seat taken), one step at a time. Between the headroom and the objective, limits
/// hold; the window after a change is not measured. Changes are logged at Debug and shown in the snapshot
/// (<c>MaxConcurrency</c> against <c>ConfiguredMaxConcurrency</c>) and in the <c>bulkhead.limit</c> metric. For
/// CPU-bound work on the ThreadPool, dedicated low-priority threads protect better than any limit (docs/adaptive.md).
/// </remarks>
public sealed class WorkloadAdaptiveOptions
{
    /// <summary>Gets or sets a value indicating whether the controller runs.</summary>
    /// <value>The default value is <see langword="false"/>.</value>
    public bool Enabled { get; set; }

    /// <summary>
    /// Gets or sets an objective for the whole process: the most the 99th percentile of ThreadPool queueing delay may be
    /// (how long work queued to the ThreadPool waits before a thread runs it, probed every few milliseconds). It sees
    /// what a class's own measures cannot: requests delayed before they are even classified, because the ThreadPool's
    /// threads are busy with other classes' work. It protects the most important classes: the limits of every class
    /// less important than them follow it.
    /// </summary>
    /// <value>The default value is <see langword="null"/>: no ThreadPool objective.</value>
    public TimeSpan? ThreadPoolDelayP99 { get; set; }

    /// <summary>Gets or sets how the controller moves limits.</summary>
    /// <value>The default value is <see cref="WorkloadAdaptiveAlgorithm.Aimd"/>.</value>
    public WorkloadAdaptiveAlgorithm Algorithm { get; set; } = WorkloadAdaptiveAlgorithm.Aimd;

    /// <summary>Gets or sets how often the controller measures and decides; from 10 ms to an hour.</summary>
    /// <value>The default value is one second.</value>
    public TimeSpan Window { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// Gets or sets how many measures a decision needs: a window with fewer is extended into the next ones until it
    /// has them, so that a quiet class's percentile is never a handful of samples.
    /// </summary>
    /// <value>The default value is 50.</value>
    [Range(1, 1_000_000)]
    public int MinSamples { get; set; } = 50;

    /// <summary>Gets or sets the steps of <see cref="WorkloadAdaptiveAlgorithm.Aimd"/>: its decrease factor and increase step.</summary>
    /// <value>The default value is a factor of 0.75 and a step of 1.</value>
    public WorkloadAimdOptions Aimd { get; set; } = new();

    /// <summary>
    /// Gets or sets the share of each objective the measure must stay under before limits grow: between it and the
    /// objective they hold, which keeps them from swinging around the objective.
    /// </summary>
    /// <value>The default value is 0.8.</value>
    [Range(0.1, 1.0)]
    public double Headroom { get; set; } = 0.8;
}
