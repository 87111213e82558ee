using Bulkhead.Admission.Internal;

namespace Bulkhead.Weights.Internal;

/// <summary>
/// A class that learns weights: work named by a cost key takes the weight learned for that key, and its lease's seat
/// time teaches it. Only leases whose request named a key are timed (<see cref="WorkloadLease.TimeFor"/>).
/// </summary>
internal sealed class WeightLearner(LearnedWeights weights, WorkloadLearnedWeightOptions options) : SeatTimeObserver
{
    public static SeatTimeObserver? For(ClassState owner, ClassLimits limits) =>
        limits.LearnedWeight is { } options ? new WeightLearner(owner.LearnedWeights ??= new LearnedWeights(), options) : null;

    /// <summary>The seats a unit of <paramref name="costKey"/> takes: its learned weight, within what the class can seat.</summary>
    public int WeightOf(string costKey, int widest) => Math.Max(1, Math.Min(weights.WeightFor(costKey, options), widest));

    public override bool Times(ClassState owner) => false;

    public override void Record(ClassState owner, TimeSpan held, string? key)
    {
        if (key is not null)
        {
            weights.Record(key, held, options);
        }
    }
}
