using Bulkhead.Adaptive.Internal;
using Bulkhead.Telemetry.Internal;
using Bulkhead.Weights.Internal;

namespace Bulkhead.Admission.Internal;

/// <summary>
/// The registration of every <see cref="SeatTimeObserver"/>: each feature says, for a class and its limits, whether it
/// observes that class's leases. Adding a feature that learns from seat time is a folder of its own and a line here.
/// </summary>
internal static class SeatTimeObservers
{
    private static readonly Func<ClassState, ClassLimits, SeatTimeObserver?>[] s_registered =
    [
        ObjectiveSeatTimes.For,
        SampledSeatTimes.For,
        WeightLearner.For,
    ];

    /// <summary>The observers of <paramref name="owner"/>'s leases under <paramref name="limits"/>, or <see langword="null"/> for none (most classes: nothing is timed).</summary>
    public static SeatTimeObserver[]? For(ClassState owner, ClassLimits limits)
    {
        List<SeatTimeObserver>? observers = null;
        foreach (Func<ClassState, ClassLimits, SeatTimeObserver?> register in s_registered)
        {
            if (register(owner, limits) is { } observer)
            {
                (observers ??= []).Add(observer);
            }
        }

        return observers?.ToArray();
    }
}
