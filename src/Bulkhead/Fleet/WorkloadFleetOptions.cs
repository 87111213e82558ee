using System.ComponentModel.DataAnnotations;

namespace Bulkhead;

/// <summary>
/// Limits of a workload class that hold across every replica of the service, on top of the class's own limits in each
/// process: concurrency caps and a rate. Enforced by a registered <see cref="IWorkloadFleetLimiterFactory"/> (the
/// Bulkhead.Redis package).
/// </summary>
public sealed class WorkloadFleetOptions
{
    /// <summary>
    /// Gets or sets the most units of work of this class in flight at once across the fleet; <see langword="null"/> for no
    /// fleet-wide cap.
    /// </summary>
    /// <value>The default value is <see langword="null"/>.</value>
    [Range(1, int.MaxValue)]
    public int? MaxConcurrency { get; set; }

    /// <summary>
    /// Gets or sets the most units of work of one partition (tenant, user, key) of this class in flight at once across
    /// the fleet; <see langword="null"/> for no fleet-wide cap per partition.
    /// </summary>
    /// <value>The default value is <see langword="null"/>.</value>
    [Range(1, int.MaxValue)]
    public int? MaxConcurrencyPerPartition { get; set; }

    /// <summary>
    /// Gets or sets a rate that holds across the fleet (per partition when its <c>PerPartition</c> is set);
    /// <see langword="null"/> for none. A class with fleet limits has its rate here, not in
    /// <see cref="WorkloadClassOptions.RateLimit"/> (which holds in each process): one admission check per class.
    /// </summary>
    /// <value>The default value is <see langword="null"/>.</value>
    public WorkloadRateLimitOptions? RateLimit { get; set; }
}
