using System.Diagnostics;
using Bulkhead.Admission.Internal;

namespace Bulkhead.Queuing.Internal;

/// <summary>
/// A class's waiters that have a QueueTimeout, in the order they fall due: by deadline, then by arrival. Waiters due
/// at the same time leave in the order they came, whatever order their timers run in. An intrusive list (no
/// allocation); a newcomer usually falls due last, so adding one is constant time. Guarded by the engine's lock.
/// </summary>
internal sealed class DueOrder
{
    private Waiter? _first;
    private Waiter? _last;

    /// <summary>Gets the waiter that falls due first, or <see langword="null"/>.</summary>
    public Waiter? First => _first;

    public void Add(Waiter waiter)
    {
        Debug.Assert(!waiter.InDueOrder, "A waiter is in one due order at most.");
        Waiter? after = _last;
        while (after is not null && (after.DueAt > waiter.DueAt || (after.DueAt == waiter.DueAt && after.Sequence > waiter.Sequence)))
        {
            after = after.DuePrevious;
        }

        waiter.DuePrevious = after;
        waiter.DueNext = after is null ? _first : after.DueNext;
        if (waiter.DueNext is { } next)
        {
            next.DuePrevious = waiter;
        }
        else
        {
            _last = waiter;
        }

        if (after is null)
        {
            _first = waiter;
        }
        else
        {
            after.DueNext = waiter;
        }

        waiter.InDueOrder = true;
    }

    public void Remove(Waiter waiter)
    {
        if (!waiter.InDueOrder)
        {
            return;
        }

        if (waiter.DuePrevious is { } previous)
        {
            previous.DueNext = waiter.DueNext;
        }
        else
        {
            _first = waiter.DueNext;
        }

        if (waiter.DueNext is { } next)
        {
            next.DuePrevious = waiter.DuePrevious;
        }
        else
        {
            _last = waiter.DuePrevious;
        }

        waiter.DueNext = null;
        waiter.DuePrevious = null;
        waiter.InDueOrder = false;
    }
}
