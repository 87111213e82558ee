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
    private IntrusiveList<Waiter, Waiter.InQueue> _waiters;

    public int Count { get; private set; }

    /// <summary>Gets the waiter admitted next.</summary>
    public Waiter? First => _waiters.First;

    /// <summary>Gets the waiter admitted last.</summary>
    public Waiter? Last => _waiters.Last;

    /// <summary>The waiter admitted after <paramref name="waiter"/>, or <see langword="null"/>.</summary>
    public static Waiter? NextOf(Waiter waiter) => IntrusiveList<Waiter, Waiter.InQueue>.NextOf(waiter);

    /// <summary>Adds a waiter to be admitted after all others (first in, first out).</summary>
    public void AddLast(Waiter waiter)
    {
        Debug.Assert(waiter.Queue is null, "A waiter is in one queue at most.");
        waiter.Queue = this;
        _waiters.AddLast(waiter);
        Count++;
    }

    /// <summary>Adds a waiter to be admitted before all others (last in, first out).</summary>
    public void AddFirst(Waiter waiter)
    {
        Debug.Assert(waiter.Queue is null, "A waiter is in one queue at most.");
        waiter.Queue = this;
        _waiters.AddFirst(waiter);
        Count++;
    }

    public void Remove(Waiter waiter)
    {
        Debug.Assert(waiter.Queue == this, "The waiter is in this queue.");
        _waiters.Remove(waiter);
        waiter.Queue = null;
        Count--;
        Debug.Assert(Count >= 0 && (Count == 0) == (_waiters.First is null), "The count matches the links.");
    }
}
