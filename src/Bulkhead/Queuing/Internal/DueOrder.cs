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
    private IntrusiveList<Waiter, Waiter.InDue> _waiters;

    /// <summary>Gets the waiter that falls due first, or <see langword="null"/>.</summary>
    public Waiter? First => _waiters.First;

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
    }

    public void Remove(Waiter waiter)
    {
        if (!waiter.InDueOrder)
        {
            return;
        }

        _waiters.Remove(waiter);
        waiter.InDueOrder = false;
    }
}
