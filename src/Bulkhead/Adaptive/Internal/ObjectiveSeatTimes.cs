using Bulkhead.Admission.Internal;

namespace Bulkhead.Adaptive.Internal;

/// <summary>A class with a seat-time objective times every lease, for the adaptive controller to read its 99th percentile.</summary>
internal sealed class ObjectiveSeatTimes(LatencyHistogram seatTimes) : SeatTimeObserver
{
    public static SeatTimeObserver? For(ClassState owner, ClassLimits limits) =>
        limits.TimesSeats ? new ObjectiveSeatTimes(owner.SeatTimes ??= new LatencyHistogram()) : null;

    public override void Record(ClassState owner, TimeSpan held, string? key) => seatTimes.Record(held);
}
