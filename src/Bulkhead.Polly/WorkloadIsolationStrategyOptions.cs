using System.ComponentModel.DataAnnotations;
using Polly;

namespace Bulkhead.Polly;

/// <summary>
/// Runs a Polly callback under a Bulkhead workload class: it waits for a seat of the class (or is rejected) before it runs.
/// </summary>
public sealed class WorkloadIsolationStrategyOptions : ResilienceStrategyOptions
{
    /// <summary>
    /// Initializes a new instance of the <see cref="WorkloadIsolationStrategyOptions"/> class.
    /// </summary>
    public WorkloadIsolationStrategyOptions() => Name = "WorkloadIsolation";

    /// <summary>Gets or sets the workload class the callback runs in.</summary>
    /// <value>The default value is <see langword="null"/>; it must be set.</value>
    [Required]
    public string? WorkloadClass { get; set; }

    /// <summary>Gets or sets a delegate that returns the partition (tenant, user, key) of an execution, or <see langword="null"/>.</summary>
    /// <value>The default value is <see langword="null"/>.</value>
    public Func<ResilienceContext, string?>? PartitionProvider { get; set; }

    /// <summary>Gets or sets a callback invoked when an execution is rejected, before the rejection is thrown.</summary>
    /// <value>The default value is <see langword="null"/>.</value>
    public Func<OnWorkloadRejectedArguments, ValueTask>? OnRejected { get; set; }
}
