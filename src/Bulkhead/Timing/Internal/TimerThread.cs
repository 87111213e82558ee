namespace Bulkhead.Timing.Internal;

/// <summary>
/// An <see cref="ITimer"/> whose callbacks run on a thread of its own, not on the ThreadPool. The system clock's timers
/// need a ThreadPool thread to run their callbacks; a timer that must act while the pool is starved (the adaptive
/// controller, which measures and relieves that starvation) runs here instead. Only for <see cref="TimeProvider.System"/>:
/// a fake clock's timers run where the clock is advanced.
/// </summary>
internal sealed class TimerThread : ITimer
{
    private const long Never = long.MaxValue;

    private readonly object _gate = new();
    private readonly TimeProvider _time;
    private readonly TimerCallback _callback;
    private readonly object? _state;
    private long _dueAt = Never;
    private TimeSpan _period = Timeout.InfiniteTimeSpan;
    private bool _disposed;

    private TimerThread(TimeProvider time, TimerCallback callback, object? state, string name)
    {
        _time = time;
        _callback = callback;
        _state = state;
        new Thread(Run) { IsBackground = true, Name = name }.Start();
    }

    /// <summary>
    /// Creates a timer that does not need the ThreadPool: on a thread of its own under the system clock, the clock's
    /// own timer under any other <see cref="TimeProvider"/>.
    /// </summary>
    public static ITimer Create(TimeProvider time, TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period, string name)
    {
        if (time != TimeProvider.System)
        {
            return time.CreateTimer(callback, state, dueTime, period);
        }

        var timer = new TimerThread(time, callback, state, name);
        timer.Change(dueTime, period);
        return timer;
    }

    public bool Change(TimeSpan dueTime, TimeSpan period)
    {
        lock (_gate)
        {
            if (_disposed)
            {
                return false;
            }

            _dueAt = dueTime == Timeout.InfiniteTimeSpan ? Never : _time.GetTimestamp() + ToTimestampTicks(dueTime);
            _period = period;
            Monitor.PulseAll(_gate);
            return true;
        }
    }

    public void Dispose()
    {
        lock (_gate)
        {
            _disposed = true;
            Monitor.PulseAll(_gate);
        }
    }

    public ValueTask DisposeAsync()
    {
        Dispose();
        return ValueTask.CompletedTask;
    }

    private long ToTimestampTicks(TimeSpan span) => (long)(span.Ticks * (_time.TimestampFrequency / (double)TimeSpan.TicksPerSecond));

    private void Run()
    {
        lock (_gate)
        {
            while (!_disposed)
            {
                long now = _time.GetTimestamp();
                if (_dueAt == Never)
                {
                    Monitor.Wait(_gate);
                    continue;
                }

                if (now < _dueAt)
                {
                    TimeSpan wait = _time.GetElapsedTime(now, _dueAt);
                    Monitor.Wait(_gate, wait > TimeSpan.FromHours(1) ? TimeSpan.FromHours(1) : wait + TimeSpan.FromMilliseconds(1));
                    continue;
                }

                _dueAt = _period == Timeout.InfiniteTimeSpan ? Never : now + ToTimestampTicks(_period);
                Monitor.Exit(_gate);
                try
                {
                    _callback(_state);
                }
                finally
                {
                    Monitor.Enter(_gate);
                }
            }
        }
    }
}
