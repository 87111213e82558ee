namespace Bulkhead;

/// <summary>What a class has learned of one kind of work (see <see cref="WorkloadLearnedWeightOptions"/>).</summary>
/// <param name="CostKey">The kind of work: an endpoint's display name, a job's method, or the key a caller gave.</param>
/// <param name="Weight">The weight its units take now.</param>
/// <param name="SeatTime">The smoothed seat-holding time of its units.</param>
/// <param name="Samples">How many of its units were measured.</param>
public sealed record WorkloadLearnedWeight(string CostKey, int Weight, TimeSpan SeatTime, long Samples);
