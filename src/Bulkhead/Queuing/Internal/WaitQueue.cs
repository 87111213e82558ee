using System.Diagnostics;
using Bulkhead.Admission.Internal;

namespace Bulkhead.Queuing.Internal;

/// <summary>
/// The waiters of one workload class, in admission order: <see cref="First"/> is admitted next. An intrusive
/// doubly linked list, so that a canceled or timed-out waiter leaves from the middle in O(1) without allocating.
/// Not thread-safe: the admission engine's lock guards it.
/// </summary>
internal sealed class WaitQueue
{
    private Waiter? _first;
    private Waiter? _last;

    public int Count { get; private set; }

    /// <summary>Gets the waiter admitted next.</summary>
    public Waiter? First => _first;

    /// <summary>Gets the waiter admitted last.</summary>
    public Waiter? Last => _last;

    /// <summary>Adds a waiter to be admitted after all others (first in, first out).</summary>
    public void AddLast(Waiter waiter)
    {
        Debug.Assert(waiter.Queue is null, "A waiter is in one queue at most.");
        waiter.Queue = this;
        waiter.Previous = _last;
        waiter.Next = null;
        if (_last is null)
        {
            _first = waiter;
        }
        else
        {
            _last.Next = waiter;
        }

        _last = waiter;
        Count++;
    }

    /// <summary>Adds a waiter to be admitted before all others (last in, first out).</summary>
    public void AddFirst(Waiter waiter)
    {
        Debug.Assert(waiter.Queue is null, "A waiter is in one queue at most.");
        waiter.Queue = this;
        waiter.Previous = null;
        waiter.Next = _first;
        if (_first is null)
        {
            _last = waiter;
        }
        else
        {
            _first.Previous = waiter;
        }

        _first = waiter;
        Count++;
    }

    public void Remove(Waiter waiter)
    {
        Debug.Assert(waiter.Queue == this, "The waiter is in this queue.");
        if (waiter.Previous is null)
        {
            _first = waiter.Next;
        }
        else
        {
            waiter.Previous.Next = waiter.Next;
        }

        if (waiter.Next is null)
        {
            _last = waiter.Previous;
        }
        else
        {
            waiter.Next.Previous = waiter.Previous;
        }

        waiter.Previous = null;
        waiter.Next = null;
        waiter.Queue = null;
        Count--;
        Debug.Assert(Count >= 0 && (Count == 0) == (_first is null), "The count matches the links.");
    }
}
