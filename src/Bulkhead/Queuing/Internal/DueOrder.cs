using System.Diagnostics;
using Bulkhead.Admission.Internal;
using Bulkhead.Timing.Internal;

namespace Bulkhead.Queuing.Internal;

/// <summary>
/// A class's waiters that have a QueueTimeout, in the order they fall due (by deadline, then by arrival), and the one
/// timer that ends their waits: armed for the first to fall due, so that a queued waiter costs no timer of its own.
/// Waiters due at the same time leave in the order they came. An intrusive list (no allocation); a newcomer usually
/// falls due last, so adding one is constant time. Guarded by the engine's lock.
/// </summary>
internal sealed class DueOrder(TimeProvider timeProvider, TimerCallback onDue, object state) : IDisposable
{
    // The longest a timer may be set for (ITimer.Change refuses more); a later deadline is reached in several steps.
    private static readonly TimeSpan s_longestTimer = TimeSpan.FromMilliseconds(uint.MaxValue - 1);

    private IntrusiveList<Waiter, Waiter.InDue> _waiters;
    private ITimer? _timer;

    // When the timer fires (a TimeProvider timestamp), or long.MaxValue while it is not armed.
    private long _timerAt = long.MaxValue;

    /// <summary>Gets the waiter that falls due first, or <see langword="null"/>.</summary>
    public Waiter? First => _waiters.First;

    /// <summary>Adds a waiter in its place, and arms the timer for it if it falls due before the timer would fire.</summary>
    public void Add(Waiter waiter)
    {
        Debug.Assert(!waiter.InDueOrder, "A waiter is in one due order at most.");
        Waiter? after = _waiters.Last;
        while (after is not null && (after.DueAt > waiter.DueAt || (after.DueAt == waiter.DueAt && after.Sequence > waiter.Sequence)))
        {
            after = IntrusiveList<Waiter, Waiter.InDue>.PreviousOf(after);
        }

        _waiters.InsertAfter(after, waiter);
        waiter.InDueOrder = true;
        if (after is null)
        {
            ArmForFirst();
        }
    }

    /// <summary>Removes a waiter. The timer stays as it is: if it fires before anyone falls due, it finds nothing to end.</summary>
    public void Remove(Waiter waiter)
    {
        if (!waiter.InDueOrder)
        {
            return;
        }

        _waiters.Remove(waiter);
        waiter.InDueOrder = false;
    }

    /// <summary>
    /// The timer fired: returns the time up to which waiters are due, the time it was armed for or now if later (a
    /// system timer may run a little before the clock that stamps deadlines says so). Arm it again with
    /// <see cref="ArmForFirst"/> once the due waiters have left.
    /// </summary>
    public long Fired()
    {
        long now = timeProvider.GetTimestamp();
        long upTo = _timerAt == long.MaxValue ? now : Math.Max(now, _timerAt);
        _timerAt = long.MaxValue;
        return upTo;
    }

    /// <summary>Arms the timer for the first waiter to fall due, unless it already fires by then.</summary>
    public void ArmForFirst()
    {
        if (_waiters.First is not { } first || first.DueAt >= _timerAt)
        {
            return;
        }

        long now = timeProvider.GetTimestamp();
        long frequency = timeProvider.TimestampFrequency;
        long left = Math.Max(0, first.DueAt - now);
        TimeSpan dueIn = frequency == TimeSpan.TicksPerSecond
            ? TimeSpan.FromTicks(left)
            : TimeSpan.FromTicks((long)Math.Min(Math.Ceiling(left * ((double)TimeSpan.TicksPerSecond / frequency)), long.MaxValue));
        if (dueIn > s_longestTimer)
        {
            dueIn = s_longestTimer;
            _timerAt = now + (long)(s_longestTimer.TotalSeconds * frequency);
        }
        else
        {
            _timerAt = first.DueAt;
        }

        if (_timer is null)
        {
            // The timer outlives the call that first queues: it must not carry that caller's context.
            _timer = UnflowedTimer.Create(() => timeProvider.CreateTimer(onDue, state, dueIn, Timeout.InfiniteTimeSpan));
        }
        else
        {
            _timer.Change(dueIn, Timeout.InfiniteTimeSpan);
        }
    }

    public void Dispose() => _timer?.Dispose();
}
