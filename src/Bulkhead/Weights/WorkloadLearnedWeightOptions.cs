namespace Bulkhead;

/// <summary>
/// Learned weight for a class (off unless set): Bulkhead keeps, per kind of work (an endpoint, a job type), a smoothed
/// estimate of how long its units hold their seats, and gives each unit the weight that estimate stands for, so that
/// work that runs four times as long takes four seats without anyone setting it.
/// </summary>
/// <remarks>
/// Use it when a class mixes kinds of work whose costs differ widely and change (reports by size, exports by format),
/// and seat-holding time is a fair measure of their cost: the work is CPU- or downstream-bound and holds its seat while
/// it works. Do not use it where units wait on something slow that costs nothing (an external API's latency): they would
/// learn a weight they do not deserve. A weight given explicitly (an endpoint's, a rule's, a caller's) always wins.
/// </remarks>
public sealed class WorkloadLearnedWeightOptions
{
    /// <summary>Gets or sets the seat-holding time one seat stands for: a kind of work whose units hold their seats for four times this takes weight 4.</summary>
    /// <value>The default value is 10 milliseconds.</value>
    public TimeSpan SeatTime { get; set; } = TimeSpan.FromMilliseconds(10);

    /// <summary>Gets or sets the smallest weight learned, and the weight of a kind of work not measured yet.</summary>
    /// <value>The default value is 1.</value>
    public int MinWeight { get; set; } = 1;

    /// <summary>Gets or sets the largest weight learned; at most what the class can ever seat.</summary>
    /// <value>The default value is 8.</value>
    public int MaxWeight { get; set; } = 8;

    /// <summary>
    /// Gets or sets how much each new measure moves the estimate (an exponentially weighted moving average): 1 follows
    /// the last unit alone, 0.1 about the last ten.
    /// </summary>
    /// <value>The default value is 0.2.</value>
    public double Smoothing { get; set; } = 0.2;
}
