namespace Bulkhead.Telemetry.Internal;

/// <summary>
/// When one class rejected work: periods of rejections without a pause of <see cref="Pause"/> or more, each with its
/// count, kept for <see cref="KeptFor"/>. It is the engine's own record, stamped as rejections happen, so that whoever
/// reads it (the health check, an operator's tool) judges by when work was rejected, not by when it happened to look.
/// </summary>
/// <remarks>
/// A rejection storm must stay cheap: a rejection within the open period takes no lock (one clock read, two atomic
/// operations); only the first rejection after a pause takes the lock to close that period and open the next. A
/// rejection racing that change may be counted in the period beside its own: counts are exact to the unit only
/// away from a period's edges.
/// </remarks>
internal sealed class RejectionHistory
{
    /// <summary>Gets the pause that separates two periods: the history's resolution.</summary>
    public static readonly TimeSpan Pause = TimeSpan.FromSeconds(1);

    /// <summary>Gets how long a period is kept after it ended.</summary>
    public static readonly TimeSpan KeptFor = TimeSpan.FromHours(1);

    /// <summary>The most periods kept; past it, the two oldest merge (the history loses detail in the past, never its start).</summary>
    public const int MaxPeriods = 128;

    private readonly TimeProvider _time;
    private readonly long _pause;
    private readonly Lock _lock = new();

    // Closed periods, oldest first from _oldest (under the lock).
    private readonly Period[] _closed = new Period[MaxPeriods - 1];
    private int _oldest;
    private int _count;

    // The newest period, still open to rejections that come less than a pause after its end; _openCount 0: none yet.
    private long _openStart;
    private long _openEnd;
    private long _openCount;

    public RejectionHistory(TimeProvider timeProvider)
    {
        _time = timeProvider;
        _pause = (long)(Pause.TotalSeconds * timeProvider.TimestampFrequency);
    }

    /// <summary>Stamps one rejection, now.</summary>
    public void Record()
    {
        long now = _time.GetTimestamp();
        if (TryExtendOpen(now))
        {
            return;
        }

        lock (_lock)
        {
            // Another rejection may have opened the next period meanwhile.
            if (TryExtendOpen(now))
            {
                return;
            }

            if (Volatile.Read(ref _openCount) > 0)
            {
                Close(new Period(_openStart, Volatile.Read(ref _openEnd), Volatile.Read(ref _openCount)));
            }

            _openStart = now;
            Volatile.Write(ref _openEnd, now);
            Volatile.Write(ref _openCount, 1);
        }
    }

    /// <summary>Gets the periods kept, newest first, as ages from now.</summary>
    public IReadOnlyList<WorkloadRejectionPeriod> Read()
    {
        long now = _time.GetTimestamp();
        lock (_lock)
        {
            while (_count > 0 && _time.GetElapsedTime(_closed[_oldest].End, now) > KeptFor)
            {
                _oldest = (_oldest + 1) % _closed.Length;
                _count--;
            }

            long openCount = Volatile.Read(ref _openCount);
            var open = new Period(_openStart, Volatile.Read(ref _openEnd), openCount);
            bool openKept = openCount > 0 && _time.GetElapsedTime(open.End, now) <= KeptFor;
            var periods = new WorkloadRejectionPeriod[_count + (openKept ? 1 : 0)];
            int i = 0;
            if (openKept)
            {
                periods[i++] = Age(open, now);
            }

            for (int k = _count - 1; k >= 0; k--)
            {
                periods[i++] = Age(_closed[(_oldest + k) % _closed.Length], now);
            }

            return periods;
        }
    }

    private bool TryExtendOpen(long now)
    {
        long end = Volatile.Read(ref _openEnd);
        if (Volatile.Read(ref _openCount) == 0 || now - end >= _pause)
        {
            return false;
        }

        Interlocked.Increment(ref _openCount);
        while (now > end)
        {
            long seen = Interlocked.CompareExchange(ref _openEnd, now, end);
            if (seen == end)
            {
                break;
            }

            end = seen;
        }

        return true;
    }

    /// <summary>Keeps a period that ended; when every place is taken, the two oldest become one.</summary>
    private void Close(Period period)
    {
        if (_count == _closed.Length)
        {
            Period first = _closed[_oldest];
            _oldest = (_oldest + 1) % _closed.Length;
            Period second = _closed[_oldest];
            _closed[_oldest] = new Period(first.Start, second.End, first.Count + second.Count);
            _count--;
        }

        _closed[(_oldest + _count) % _closed.Length] = period;
        _count++;
    }

    private WorkloadRejectionPeriod Age(Period p, long now) => new()
    {
        StartedAgo = _time.GetElapsedTime(p.Start, now),
        EndedAgo = _time.GetElapsedTime(p.End, now),
        Rejected = p.Count,
    };

    private readonly record struct Period(long Start, long End, long Count);
}
