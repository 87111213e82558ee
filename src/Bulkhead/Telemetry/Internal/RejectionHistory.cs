namespace Bulkhead.Telemetry.Internal;

/// <summary>
/// When one class rejected work: periods of rejections without a pause of <see cref="Pause"/> or more, each with its
/// count, kept for <see cref="KeptFor"/>. It is the engine's own record, stamped as rejections happen, so that whoever
/// reads it (the health check, an operator's tool) judges by when work was rejected, not by when it happened to look.
/// </summary>
internal sealed class RejectionHistory(TimeProvider timeProvider)
{
    /// <summary>Gets the pause that separates two periods: the history's resolution.</summary>
    public static readonly TimeSpan Pause = TimeSpan.FromSeconds(1);

    /// <summary>Gets how long a period is kept after it ended.</summary>
    public static readonly TimeSpan KeptFor = TimeSpan.FromHours(1);

    /// <summary>The most periods kept; past it, the two oldest merge (the history loses detail in the past, never its start).</summary>
    public const int MaxPeriods = 128;

    private readonly Lock _lock = new();
    private readonly Period[] _periods = new Period[MaxPeriods];
    private int _oldest;
    private int _count;

    /// <summary>Stamps one rejection, now.</summary>
    public void Record()
    {
        long now = timeProvider.GetTimestamp();
        lock (_lock)
        {
            if (_count > 0)
            {
                ref Period newest = ref _periods[(_oldest + _count - 1) % MaxPeriods];
                if (timeProvider.GetElapsedTime(newest.End, now) < Pause)
                {
                    newest.End = Math.Max(newest.End, now);
                    newest.Count++;
                    return;
                }
            }

            if (_count == MaxPeriods)
            {
                ref Period first = ref _periods[_oldest];
                Period second = _periods[(_oldest + 1) % MaxPeriods];
                _oldest = (_oldest + 1) % MaxPeriods;
                _periods[_oldest] = new Period(first.Start, second.End, first.Count + second.Count);
                _count--;
            }

            _periods[(_oldest + _count) % MaxPeriods] = new Period(now, now, 1);
            _count++;
        }
    }

    /// <summary>Gets the periods kept, newest first, as ages from now.</summary>
    public IReadOnlyList<WorkloadRejectionPeriod> Read()
    {
        long now = timeProvider.GetTimestamp();
        lock (_lock)
        {
            while (_count > 0 && timeProvider.GetElapsedTime(_periods[_oldest].End, now) > KeptFor)
            {
                _oldest = (_oldest + 1) % MaxPeriods;
                _count--;
            }

            if (_count == 0)
            {
                return [];
            }

            var periods = new WorkloadRejectionPeriod[_count];
            for (int i = 0; i < _count; i++)
            {
                Period p = _periods[(_oldest + _count - 1 - i) % MaxPeriods];
                periods[i] = new WorkloadRejectionPeriod
                {
                    StartedAgo = timeProvider.GetElapsedTime(p.Start, now),
                    EndedAgo = timeProvider.GetElapsedTime(p.End, now),
                    Rejected = p.Count,
                };
            }

            return periods;
        }
    }

    private record struct Period(long Start, long End, long Count);
}
