using System.Diagnostics;
using Bulkhead.Queuing.Internal;

namespace Bulkhead.Admission.Internal;

internal sealed partial class AdmissionEngine
{
    private static readonly Action<object?, CancellationToken> s_onCanceled =
        static (state, _) => ((Waiter)state!).Class.Engine.EndWait((Waiter)state!, WaitOutcome.Canceled);

    private static readonly TimerCallback s_onTimeout =
        static state => ((Waiter)state!).Class.Engine.EndWait((Waiter)state!, WaitOutcome.TimedOut);

    private ValueTask<WorkloadLease> AcquireSlow(ClassState c, string? partition, bool wait, CancellationToken cancellationToken)
    {
        Waiter? completions = null;
        Waiter? waiter = null;
        WorkloadRejectionReason? rejection = null;
        PartitionState? heldPartition = null;
        string key = partition ?? string.Empty;

        lock (_lock)
        {
            // Seats freed by racing releasers go to those already waiting before this arrival is considered.
            PumpUnsynchronized(ref completions);

            PartitionState? known = c.Queue.Find(key);
            if (_closed)
            {
                rejection = WorkloadRejectionReason.ShuttingDown;
            }
            else if (c.Queue.PeekEligible() is null && (known is null || known.Waiters.Count == 0) && c.Queue.HasRoom(known)
                && TryTakeSeat(c, allowShared: !HasWaiterEntitledToSharedSeatUnsynchronized(c.Priority)) != SeatKind.None)
            {
                // Admitted: the lease is issued below, outside the lock.
                if (c.LimitsPartitions)
                {
                    heldPartition = c.Queue.Track(key);
                    heldPartition.InFlight++;
                }
            }
            else if (!wait || c.QueueLimit == 0)
            {
                rejection = WorkloadRejectionReason.QueueFull;
            }
            else if (c.QueueTimeout == TimeSpan.Zero)
            {
                rejection = WorkloadRejectionReason.QueueTimeout;
            }
            else
            {
                // A full queue turns away a waiter of its largest partition rather than a quieter tenant's newcomer.
                bool full = c.Queue.Count >= c.QueueLimit;
                Waiter? victim = full ? c.Queue.ChooseEvictionVictim(key, c.QueueOrder == WorkloadQueueOrder.Lifo) : null;
                if (full && victim is null)
                {
                    rejection = WorkloadRejectionReason.QueueFull;
                }
                else
                {
                    if (victim is not null)
                    {
                        RemoveUnsynchronized(victim, WaitOutcome.Evicted, ref completions);
                    }

                    waiter = EnqueueUnsynchronized(c, partition, cancellationToken, ref completions);
                }
            }

            if (rejection is not null)
            {
                Interlocked.Increment(ref c.Rejected);
            }

            AssertInvariantsUnsynchronized();
        }

        Complete(completions);

        if (waiter is not null)
        {
            return new ValueTask<WorkloadLease>(waiter.Task);
        }

        return new ValueTask<WorkloadLease>(rejection is { } reason
            ? new WorkloadLease(c.Name, reason, retryAfter: null)
            : LeaseTicket.Issue(c, heldPartition));
    }

    private Waiter EnqueueUnsynchronized(ClassState c, string? partition, CancellationToken cancellationToken, ref Waiter? completions)
    {
        var waiter = new Waiter(c, partition, _timeProvider.GetTimestamp(), cancellationToken);
        c.Queue.Add(waiter, lifo: c.QueueOrder == WorkloadQueueOrder.Lifo);
        _totalQueued++;
        PublishUnsynchronized();

        // Published first, checked second: a releaser that freed a seat before seeing this waiter is caught here.
        PumpUnsynchronized(ref completions);

        if (waiter.Outcome == WaitOutcome.Waiting && cancellationToken.CanBeCanceled)
        {
            // Runs the callback at once if the token is already canceled; the lock is reentrant.
            waiter.CancellationRegistration = cancellationToken.UnsafeRegister(s_onCanceled, waiter);
        }

        if (waiter.Outcome == WaitOutcome.Waiting && c.QueueTimeout != Timeout.InfiniteTimeSpan)
        {
            waiter.Timer = _timeProvider.CreateTimer(s_onTimeout, waiter, c.QueueTimeout, Timeout.InfiniteTimeSpan);
        }

        return waiter;
    }

    /// <summary>Ends a wait from outside: the caller canceled it or its timeout passed.</summary>
    private void EndWait(Waiter waiter, WaitOutcome outcome)
    {
        Waiter? completions = null;
        lock (_lock)
        {
            if (waiter.Outcome != WaitOutcome.Waiting)
            {
                return;
            }

            RemoveUnsynchronized(waiter, outcome, ref completions);
            PublishUnsynchronized();
            AssertInvariantsUnsynchronized();
        }

        Complete(completions);
    }

    private void RemoveUnsynchronized(Waiter waiter, WaitOutcome outcome, ref Waiter? completions)
    {
        Debug.Assert(waiter.Outcome == WaitOutcome.Waiting, "A waiter leaves its queue once.");
        bool granted = outcome == WaitOutcome.Granted;
        if (granted && waiter.Class.LimitsPartitions)
        {
            // Counted before leaving the queue, so the partition is not forgotten in between.
            waiter.Partition!.InFlight++;
        }

        waiter.Class.Queue.Remove(waiter, served: granted);
        waiter.Outcome = outcome;
        _totalQueued--;

        if (outcome == WaitOutcome.Canceled)
        {
            Interlocked.Increment(ref waiter.Class.Canceled);
        }
        else if (outcome != WaitOutcome.Granted)
        {
            Interlocked.Increment(ref waiter.Class.Rejected);
        }

        waiter.NextToComplete = completions;
        completions = waiter;
    }

    /// <summary>
    /// Hands free seats to waiters: priority groups in order, the classes of a group in turn (round robin). Once a
    /// waiting class of some priority is held back by the pool, lower priorities may take only their reserved seats.
    /// </summary>
    private void PumpUnsynchronized(ref Waiter? completions)
    {
        if (_totalQueued == 0)
        {
            return;
        }

        int queuedBefore = _totalQueued;
        bool sharedBlocked = false;
        for (int g = 0; g < _priorityGroups.Length; g++)
        {
            ClassState[] group = _priorityGroups[g];
            bool granted;
            do
            {
                granted = false;
                for (int k = 0; k < group.Length; k++)
                {
                    int index = (_roundRobinCursors[g] + k) % group.Length;
                    ClassState c = group[index];
                    if (c.Queue.PeekEligible() is not { } waiter || TryTakeSeat(c, allowShared: !sharedBlocked) == SeatKind.None)
                    {
                        continue;
                    }

                    RemoveUnsynchronized(waiter, WaitOutcome.Granted, ref completions);
                    _roundRobinCursors[g] = (index + 1) % group.Length;
                    granted = true;
                    break;
                }
            }
            while (granted);

            foreach (ClassState c in group)
            {
                sharedBlocked |= c.InFlight < c.Max && c.Queue.PeekEligible() is not null;
            }
        }

        if (_totalQueued != queuedBefore)
        {
            PublishUnsynchronized();
        }
    }

    /// <summary>
    /// Whether a waiter of the same or a more important priority could take a shared seat, so that a new arrival must
    /// not take one first.
    /// </summary>
    private bool HasWaiterEntitledToSharedSeatUnsynchronized(int priority)
    {
        foreach (ClassState c in Classes)
        {
            if (c.Priority > priority)
            {
                break;
            }

            if (c.InFlight < c.Max && c.Queue.PeekEligible() is not null)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>
    /// Publishes the queues' state to the fast path, then fences: the caller's next look at the seat counts cannot be
    /// ordered before the fast path can see the change.
    /// </summary>
    private void PublishUnsynchronized()
    {
        int minWaitingPriority = NoWaiters;
        foreach (ClassState c in Classes)
        {
            int queued = c.Queue.Count;
            int gate = _closed ? -1 : queued;
            if (c.Gate != gate)
            {
                Volatile.Write(ref c.Gate, gate);
            }

            if (queued > 0)
            {
                minWaitingPriority = Math.Min(minWaitingPriority, c.Priority);
            }
        }

        minWaitingPriority = _closed ? Closed : minWaitingPriority;
        if (_minWaitingPriority != minWaitingPriority)
        {
            Volatile.Write(ref _minWaitingPriority, minWaitingPriority);
        }

        Interlocked.MemoryBarrier();
    }

    /// <summary>Completes waiters that left their queues, outside the lock.</summary>
    private static void Complete(Waiter? completions)
    {
        while (completions is { } waiter)
        {
            completions = waiter.NextToComplete;
            waiter.NextToComplete = null;
            waiter.Timer?.Dispose();
            waiter.CancellationRegistration.Unregister();

            ClassState c = waiter.Class;
            bool completed = waiter.Outcome switch
            {
                WaitOutcome.Granted => waiter.TrySetResult(LeaseTicket.Issue(c, c.LimitsPartitions ? waiter.Partition : null)),
                WaitOutcome.Canceled => waiter.TrySetCanceled(waiter.CancellationToken),
                WaitOutcome.TimedOut => waiter.TrySetResult(new WorkloadLease(c.Name, WorkloadRejectionReason.QueueTimeout, retryAfter: null)),
                WaitOutcome.Evicted => waiter.TrySetResult(new WorkloadLease(c.Name, WorkloadRejectionReason.QueueFull, retryAfter: null)),
                _ => waiter.TrySetResult(new WorkloadLease(c.Name, WorkloadRejectionReason.ShuttingDown, retryAfter: null)),
            };
            Debug.Assert(completed, "Only the engine completes a waiter, and only once.");
        }
    }

    [Conditional("DEBUG")]
    private void AssertInvariantsUnsynchronized()
    {
        int queued = 0;
        foreach (ClassState c in Classes)
        {
            queued += c.Queue.Count;
            Debug.Assert(c.QueueLimit == 0 || c.Queue.Count <= c.QueueLimit, $"Class '{c.Name}' queues no more than its limit.");
        }

        Debug.Assert(queued == _totalQueued, "The total matches the queues.");
        Debug.Assert(Volatile.Read(ref _sharedInUse) <= _pool, "The shared pool is never overdrawn.");
    }
}
