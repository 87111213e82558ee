using System.Collections.Concurrent;
using Bulkhead.Admission.Internal;

namespace Bulkhead.Weights.Internal;

/// <summary>
/// One class's learned weight: per cost key, a smoothed seat-holding time and the weight it stands for. Bounded: past
/// <see cref="MaxKeys"/> kinds of work, new keys are not learned (they take <see cref="WorkloadLearnedWeightOptions.MinWeight"/>),
/// and keys are kept in their bounded form (<see cref="BoundedKey"/>).
/// </summary>
internal sealed class LearnedWeights
{
    /// <summary>How many kinds of work one class learns at most.</summary>
    public const int MaxKeys = 1_024;

    private readonly ConcurrentDictionary<string, Estimate> _byKey = new(StringComparer.Ordinal);

    // Places taken by keys, counted before a key is added: the cap holds exactly, however many keys race to be added.
    private int _keys;

    /// <summary>The weight a unit of <paramref name="costKey"/> takes under <paramref name="options"/>.</summary>
    public int WeightFor(string costKey, WorkloadLearnedWeightOptions options) =>
        _byKey.TryGetValue(BoundedKey.For(costKey), out Estimate? estimate) ? estimate.Weight(options) : options.MinWeight;

    /// <summary>A unit of <paramref name="costKey"/> held its seats for <paramref name="held"/>.</summary>
    public void Record(string costKey, TimeSpan held, WorkloadLearnedWeightOptions options)
    {
        string key = BoundedKey.For(costKey);
        if (!_byKey.TryGetValue(key, out Estimate? estimate))
        {
            if (Interlocked.Increment(ref _keys) > MaxKeys)
            {
                Interlocked.Decrement(ref _keys);
                return;
            }

            estimate = new Estimate();
            if (!_byKey.TryAdd(key, estimate))
            {
                // Another unit added the key first: its place is the one counted.
                Interlocked.Decrement(ref _keys);
                estimate = _byKey[key];
            }
        }

        estimate.Add(held.Ticks, options.Smoothing);
    }

    public IReadOnlyList<WorkloadLearnedWeight> Snapshot(WorkloadLearnedWeightOptions options) =>
        [.. _byKey.OrderBy(e => e.Key, StringComparer.Ordinal).Select(e => e.Value.Read(e.Key, options))];

    private sealed class Estimate
    {
        private readonly Lock _lock = new();
        private double _ticks;
        private long _samples;

        public void Add(long ticks, double smoothing)
        {
            lock (_lock)
            {
                _ticks = _samples == 0 ? ticks : _ticks + (smoothing * (ticks - _ticks));
                _samples++;
            }
        }

        public int Weight(WorkloadLearnedWeightOptions options)
        {
            lock (_lock)
            {
                return WeightOf(_ticks, options);
            }
        }

        public WorkloadLearnedWeight Read(string key, WorkloadLearnedWeightOptions options)
        {
            lock (_lock)
            {
                return new WorkloadLearnedWeight(key, WeightOf(_ticks, options), TimeSpan.FromTicks((long)_ticks), _samples);
            }
        }

        /// <summary>The seats a smoothed seat-holding time stands for, rounded, within the configured range.</summary>
        private static int WeightOf(double ticks, WorkloadLearnedWeightOptions options) =>
            (int)Math.Clamp(Math.Round(ticks / options.SeatTime.Ticks, MidpointRounding.AwayFromZero), options.MinWeight, options.MaxWeight);
    }
}
