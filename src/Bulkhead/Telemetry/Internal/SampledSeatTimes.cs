using Bulkhead.Adaptive.Internal;
using Bulkhead.Admission.Internal;

namespace Bulkhead.Telemetry.Internal;

/// <summary>
/// One lease in <see cref="WorkloadIsolationMetrics.SeatDurationSampling"/> is timed for the seat-duration histogram
/// (while it has a listener) and for the history (once the engine keeps one).
/// </summary>
internal sealed class SampledSeatTimes(WorkloadIsolationMetrics? metrics, LatencyHistogram? history) : SeatTimeObserver
{
    public static SeatTimeObserver? For(ClassState owner, ClassLimits limits)
    {
        // A class with an objective already puts every lease's time into its histogram; the history reads the same one.
        LatencyHistogram? history = owner.Engine.KeepsHistory ? owner.SeatTimes ??= new LatencyHistogram() : null;
        history = limits.TimesSeats ? null : history;
        return owner.Engine.Metrics is null && history is null ? null : new SampledSeatTimes(owner.Engine.Metrics, history);
    }

    public override bool Times(ClassState owner) =>
        (history is not null || metrics is { SeatDuration.Enabled: true })
        && owner.SeatDurationSample++ % WorkloadIsolationMetrics.SeatDurationSampling == 0;

    public override void Record(ClassState owner, TimeSpan held, string? key)
    {
        history?.Record(held);
        if (metrics is { SeatDuration.Enabled: true })
        {
            metrics.RecordSeatDuration(owner, held);
        }
    }
}
