using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Threading.RateLimiting;
using Bulkhead.Queuing.Internal;

namespace Bulkhead.Admission.Internal;

internal sealed partial class AdmissionEngine
{
    private static readonly Action<object?, CancellationToken> s_onCanceled =
        static (state, _) => ((Waiter)state!).Class.Engine.Cancel((Waiter)state!);

    /// <summary>Runs when a class's first waiter to fall due reaches its QueueTimeout (the class's one queue-timeout timer).</summary>
    internal static readonly TimerCallback OnDue = static state =>
    {
        var c = (ClassState)state!;
        try
        {
            c.Engine.EndDueWaits(c);
        }
        catch (Exception exception)
        {
            c.Engine.TimerFaults.Report("queue timeout", exception);
        }
    };

    [MethodImpl(MethodImplOptions.NoInlining)]
    private ValueTask<WorkloadLease> AcquireSlow(ClassState c, string? partition, WaitMode mode, RateLimitLease? limiterLease, CancellationToken cancellationToken, int weight = 1, long deadlineAt = long.MaxValue)
    {
        Waiter? completions = null;
        Waiter? waiter = null;
        WorkloadRejectionReason? rejection = null;
        PartitionState? heldPartition = null;
        int seats = 1;
        bool removed = false;
        string key = BoundedKey.For(partition);

        lock (_lock)
        {
            // Seats freed by racing releasers go to those already waiting before this arrival is considered.
            PumpUnsynchronized(ref completions);

            ClassLimits limits = c.Limits;
            PartitionState? known = c.Queue.Find(key);
            seats = limits.SeatsFor(weight);
            if (_closed)
            {
                rejection = WorkloadRejectionReason.ShuttingDown;
            }
            else if (limits.Removed)
            {
                // Removed by a reconfiguration since this arrival looked: it runs in the default class.
                removed = true;
            }
            else if (limits.ShedBy is not null && mode != WaitMode.Background)
            {
                // Shed since this arrival looked: only background work waits for the pressure to ease.
                rejection = WorkloadRejectionReason.Shed;
            }
            else if (c.Queue.PeekEligible() is null && (known is null || known.Waiters.Count == 0) && c.Queue.HasRoom(known, seats)
                && TryTakeSeats(c, limits, seats, allowShared: !HasWaiterEntitledToSharedSeatUnsynchronized(limits.Priority)) != SeatKind.None)
            {
                // Admitted: the lease is issued below, outside the lock.
                if (limits.LimitsPartitions)
                {
                    heldPartition = c.Queue.Track(known, key);
                    heldPartition.InFlight += seats;
                }
            }
            else if (mode == WaitMode.None || (mode == WaitMode.Queue && limits.QueueLimit == 0))
            {
                rejection = WorkloadRejectionReason.QueueFull;
            }
            else if (mode == WaitMode.Queue && limits.QueueTimeout == TimeSpan.Zero)
            {
                rejection = WorkloadRejectionReason.QueueTimeout;
            }
            else
            {
                // A full queue turns away a waiter of its largest partition rather than a quieter tenant's newcomer;
                // background work waits outside the limit and is never turned away for a newcomer.
                bool full = mode == WaitMode.Queue && c.Queue.Count >= limits.QueueLimit;
                Waiter? victim = full ? c.Queue.ChooseEvictionVictim(key, limits.Lifo) : null;
                if (victim is { Background: true })
                {
                    victim = null;
                }

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

                    waiter = EnqueueUnsynchronized(c, limits, partition, limiterLease, mode == WaitMode.Background, weight, deadlineAt, ref completions, cancellationToken);
                }
            }

            if (rejection is { } counted)
            {
                c.CountRejection(counted);
            }

            AssertInvariantsUnsynchronized();
        }

        Complete(completions);

        if (removed)
        {
            return AcquireSlow(FallBack(c), partition, mode, limiterLease, cancellationToken, weight, deadlineAt);
        }

        if (waiter is not null)
        {
            return new ValueTask<WorkloadLease>(waiter.Task);
        }

        if (rejection is { } reason)
        {
            limiterLease?.Dispose();
            return new ValueTask<WorkloadLease>(new WorkloadLease(c.Name, reason, retryAfter: null));
        }

        return new ValueTask<WorkloadLease>(LeaseTicket.Issue(c, heldPartition, limiterLease, seats));
    }

    private Waiter EnqueueUnsynchronized(ClassState c, ClassLimits limits, string? partition, RateLimitLease? limiterLease, bool background, int weight, long deadlineAt, ref Waiter? completions, CancellationToken cancellationToken)
    {
        long enqueued = TimeProvider.GetTimestamp();

        // Queue delay control: a queue that has held work without a moment empty for its interval stands, and work that
        // starts waiting in it then waits only the target, newest first.
        bool standing = limits.QueueDelay is { } delay && c.Queue.Count > 0 && DueAt(c.QueueNonEmptySince, delay.Interval) <= enqueued;
        if (c.Queue.Count == 0)
        {
            c.QueueNonEmptySince = enqueued;
        }

        TimeSpan timeout = background ? Timeout.InfiniteTimeSpan : standing ? limits.QueueDelay!.Target : limits.QueueTimeout;
        long timesOutAt = timeout == Timeout.InfiniteTimeSpan ? long.MaxValue : DueAt(enqueued, timeout);

        // A waiter leaves at its class's queue timeout or its caller's deadline, whichever comes first (the deadline on a tie).
        var waiter = new Waiter(c, partition, enqueued, cancellationToken)
        {
            LimiterLease = limiterLease, Sequence = ++_waiterSequence, Background = background, Weight = weight,
            DueAt = Math.Min(timesOutAt, deadlineAt), DeadlineFirst = deadlineAt <= timesOutAt && deadlineAt != long.MaxValue,
        };
        c.Queue.Add(waiter, lifo: limits.Lifo || (standing && limits.QueueDelay!.LifoWhenStanding));
        if (waiter.DueAt != long.MaxValue)
        {
            c.Due.Add(waiter);
        }

        _totalQueued++;
        PublishUnsynchronized();

        // Published first, checked second: a releaser that freed a seat before seeing this waiter is caught here.
        PumpUnsynchronized(ref completions);

        if (waiter.Outcome == WaitOutcome.Waiting && cancellationToken.CanBeCanceled)
        {
            // Runs the callback at once if the token is already canceled; the lock is reentrant.
            waiter.CancellationRegistration = cancellationToken.UnsafeRegister(s_onCanceled, waiter);
        }

        return waiter;
    }

    /// <summary>Ends a wait its caller canceled, unless it has already ended.</summary>
    private void Cancel(Waiter waiter)
    {
        Waiter? completions = null;
        lock (_lock)
        {
            if (waiter.Outcome != WaitOutcome.Waiting)
            {
                return;
            }

            RemoveUnsynchronized(waiter, WaitOutcome.Canceled, ref completions);
            EndedWaitsUnsynchronized(ref completions);
        }

        Complete(completions);
    }

    /// <summary>
    /// Ends the waits of a class whose QueueTimeout has passed, in the order they fell due (the order of leaving decides
    /// ties in whom a full queue turns away later), and arms the class's timer for the next.
    /// </summary>
    private void EndDueWaits(ClassState c)
    {
        Waiter? completions = null;
        lock (_lock)
        {
            if (_closed)
            {
                return;
            }

            ExpireDueUnsynchronized(c, c.Due.Fired(), ref completions);
            c.Due.ArmForFirst();
            EndedWaitsUnsynchronized(ref completions);
        }

        Complete(completions);
    }

    /// <summary>After waits ended from outside: a wide waiter leaving may let the narrower one behind it start, or free the shared seats it was gathering.</summary>
    private void EndedWaitsUnsynchronized(ref Waiter? completions)
    {
        PublishUnsynchronized();
        PumpUnsynchronized(ref completions);
        AssertInvariantsUnsynchronized();
    }

    private void RemoveUnsynchronized(Waiter waiter, WaitOutcome outcome, ref Waiter? completions)
    {
        Debug.Assert(waiter.Outcome == WaitOutcome.Waiting, "A waiter leaves its queue once.");
        bool granted = outcome == WaitOutcome.Granted;
        waiter.HoldsPartitionSeat = granted && waiter.Class.Limits.LimitsPartitions;
        if (waiter.HoldsPartitionSeat)
        {
            // Counted before leaving the queue, so the partition is not forgotten in between.
            waiter.Partition!.InFlight += waiter.Seats;
        }

        waiter.Class.Queue.Remove(waiter, served: granted);
        waiter.Class.Due.Remove(waiter);
        waiter.Backlogged = granted && waiter.Class.BacklogThreads is not null && waiter.Partition is { Waiters.Count: > 0 };
        waiter.Outcome = outcome;
        _totalQueued--;

        if (outcome == WaitOutcome.Canceled)
        {
            Interlocked.Increment(ref waiter.Class.Canceled);
        }
        else if (outcome != WaitOutcome.Granted)
        {
            waiter.Class.CountRejection(outcome switch
            {
                WaitOutcome.TimedOut => WorkloadRejectionReason.QueueTimeout,
                WaitOutcome.PastDeadline => WorkloadRejectionReason.DeadlineExceeded,
                WaitOutcome.Evicted => WorkloadRejectionReason.QueueFull,
                WaitOutcome.Shed => WorkloadRejectionReason.Shed,
                _ => WorkloadRejectionReason.ShuttingDown,
            });
        }

        waiter.NextToComplete = completions;
        completions = waiter;
    }

    /// <summary>
    /// Hands free seats to waiters: priority groups in order, the classes of a group in turn (round robin). Once a
    /// waiting class of some priority is held back by the pool, lower priorities may take only their reserved seats.
    /// A wide waiter (more than one seat) whose class has room for it goes first among the classes of its priority (the
    /// first such in turn), and while it finds too few shared seats free the others take only their reserved seats, so
    /// that the shared seats freeing one by one gather for it instead of going to narrower work of its rank.
    /// </summary>
    private void PumpUnsynchronized(ref Waiter? completions)
    {
        if (_totalQueued == 0)
        {
            return;
        }

        int queuedBefore = _totalQueued;
        long now = 0;
        bool sharedBlocked = false;
        EngineConfiguration configuration = _configuration;
        ClassState[][] groups = configuration.PriorityGroups;
        int[] cursors = configuration.RoundRobinCursors;
        for (int g = 0; g < groups.Length; g++)
        {
            ClassState[] group = groups[g];
            bool granted;
            do
            {
                granted = false;
                int holder = FindWideHolderUnsynchronized(group, cursors[g], ref now, ref completions);
                int start = holder >= 0 ? holder : cursors[g];
                for (int k = 0; k < group.Length; k++)
                {
                    int index = (start + k) % group.Length;
                    ClassState c = group[index];
                    if (PeekLiveUnsynchronized(c, ref now, ref completions) is not { } waiter)
                    {
                        continue;
                    }

                    ClassLimits limits = c.Limits;
                    int seats = limits.SeatsFor(waiter.Weight);
                    bool allowShared = !sharedBlocked && (holder < 0 || holder == index);
                    if (TryTakeSeats(c, limits, seats, allowShared) == SeatKind.None)
                    {
                        continue;
                    }

                    waiter.Seats = seats;
                    RemoveUnsynchronized(waiter, WaitOutcome.Granted, ref completions);
                    cursors[g] = holder >= 0 && holder != index ? holder : (index + 1) % group.Length;
                    granted = true;
                    break;
                }
            }
            while (granted);

            foreach (ClassState c in group)
            {
                sharedBlocked |= c.Queue.PeekEligible() is { } waiter && FitsUnderMax(c, waiter);
            }
        }

        if (_totalQueued != queuedBefore)
        {
            PublishUnsynchronized();
        }
    }

    /// <summary>
    /// The class of a priority group whose next waiter is wide (more than one seat) and fits under its class's maximum,
    /// the first in turn from <paramref name="cursor"/>: it goes first, and holds the shared seats that free until it
    /// has enough. -1 for none.
    /// </summary>
    private int FindWideHolderUnsynchronized(ClassState[] group, int cursor, ref long now, ref Waiter? completions)
    {
        for (int k = 0; k < group.Length; k++)
        {
            int index = (cursor + k) % group.Length;
            ClassState c = group[index];
            if (PeekLiveUnsynchronized(c, ref now, ref completions) is { Weight: > 1 } waiter && c.Limits.SeatsFor(waiter.Weight) > 1 && FitsUnderMax(c, waiter))
            {
                return index;
            }
        }

        return -1;
    }

    /// <summary>
    /// The waiter a class serves next, once the heads whose QueueTimeout has passed are timed out: a seat never goes to
    /// a waiter past its timeout whose timer has not run yet, so that when several timers are due at once the order
    /// they run in changes nothing.
    /// </summary>
    private Waiter? PeekLiveUnsynchronized(ClassState c, ref long now, ref Waiter? completions)
    {
        while (c.Queue.PeekEligible() is { } waiter)
        {
            if (!waiter.InDueOrder)
            {
                return waiter;
            }

            if (now == 0)
            {
                now = TimeProvider.GetTimestamp();
            }

            if (waiter.DueAt > now)
            {
                return waiter;
            }

            ExpireDueUnsynchronized(c, now, ref completions);
        }

        return null;
    }

    /// <summary>Times out the class's waiters due by <paramref name="now"/>, in the order they fell due.</summary>
    private void ExpireDueUnsynchronized(ClassState c, long now, ref Waiter? completions)
    {
        while (c.Due.First is { } due && due.DueAt <= now)
        {
            RemoveUnsynchronized(due, due.DeadlineFirst ? WaitOutcome.PastDeadline : WaitOutcome.TimedOut, ref completions);
        }
    }

    /// <summary>When a wait that began at <paramref name="enqueued"/> reaches <paramref name="timeout"/>, as a timestamp.</summary>
    private long DueAt(long enqueued, TimeSpan timeout)
    {
        long frequency = TimeProvider.TimestampFrequency;
        long span = frequency == TimeSpan.TicksPerSecond ? timeout.Ticks : (long)Math.Ceiling(timeout.TotalSeconds * frequency);
        return span > long.MaxValue - enqueued ? long.MaxValue : enqueued + span;
    }

    /// <summary>
    /// Whether a waiter of the same or a more important priority could take a shared seat, so that a new arrival must
    /// not take one first.
    /// </summary>
    private bool HasWaiterEntitledToSharedSeatUnsynchronized(int priority)
    {
        if (_totalQueued == 0)
        {
            return false;
        }

        foreach (ClassState c in _configuration.Classes)
        {
            ClassLimits limits = c.Limits;
            if (limits.Priority > priority)
            {
                break;
            }

            if (c.Queue.PeekEligible() is { } waiter && FitsUnderMax(c, waiter))
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
        foreach (ClassState c in _configuration.Classes)
        {
            int queued = c.Queue.Count;
            int gate = _closed ? -1 : queued;
            if (c.Gate != gate)
            {
                Volatile.Write(ref c.Gate, gate);
            }

            if (queued > 0)
            {
                minWaitingPriority = Math.Min(minWaitingPriority, c.Limits.Priority);
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
            waiter.CancellationRegistration.Unregister();

            ClassState c = waiter.Class;
            if (waiter.Outcome != WaitOutcome.Granted)
            {
                waiter.LimiterLease?.Dispose();
            }

            bool intoHistogram = waiter.Outcome == WaitOutcome.Granted && c.QueueWaits is not null && (c.Limits.TimesQueueWaits || c.Engine.KeepsHistory);
            if (intoHistogram || c.Engine.Metrics is { QueueDuration.Enabled: true })
            {
                RecordWait(c, waiter, intoHistogram);
            }

            bool completed = waiter.Outcome switch
            {
                WaitOutcome.Granted => waiter.TrySetResult(LeaseTicket.Issue(c, waiter.HoldsPartitionSeat ? waiter.Partition : null, waiter.LimiterLease, waiter.Seats, waiter.Backlogged)),
                WaitOutcome.Canceled => waiter.TrySetCanceled(waiter.CancellationToken),
                WaitOutcome.TimedOut => waiter.TrySetResult(new WorkloadLease(c.Name, WorkloadRejectionReason.QueueTimeout, retryAfter: null)),
                WaitOutcome.PastDeadline => waiter.TrySetResult(new WorkloadLease(c.Name, WorkloadRejectionReason.DeadlineExceeded, retryAfter: null)),
                WaitOutcome.Evicted => waiter.TrySetResult(new WorkloadLease(c.Name, WorkloadRejectionReason.QueueFull, retryAfter: null)),
                WaitOutcome.Shed => waiter.TrySetResult(new WorkloadLease(c.Name, WorkloadRejectionReason.Shed, retryAfter: null)),
                _ => waiter.TrySetResult(new WorkloadLease(c.Name, WorkloadRejectionReason.ShuttingDown, retryAfter: null)),
            };
            Debug.Assert(completed, "Only the engine completes a waiter, and only once.");
        }
    }

    /// <summary>How long a waiter waited, for the class's objective and for the metrics; outside the lock.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void RecordWait(ClassState c, Waiter waiter, bool intoHistogram)
    {
        TimeSpan waited = c.Engine.TimeProvider.GetElapsedTime(waiter.EnqueuedTimestamp);
        if (intoHistogram)
        {
            c.QueueWaits!.Record(waited);
        }

        if (c.Engine.Metrics is { QueueDuration.Enabled: true } metrics)
        {
            metrics.RecordQueueDuration(c, waited, waiter.Outcome);
        }
    }

    [Conditional("DEBUG")]
    private void AssertInvariantsUnsynchronized()
    {
        int queued = 0;
        foreach (ClassState c in _configuration.Classes)
        {
            queued += c.Queue.Count;
        }

        Debug.Assert(queued == _totalQueued, "The total matches the queues.");
    }
}
