using System.Diagnostics;
using System.Runtime.CompilerServices;
using Bulkhead.Queuing.Internal;

namespace Bulkhead.Admission.Internal;

/// <summary>
/// Decides for every unit of work whether it runs now, waits or is rejected.
/// </summary>
/// <remarks>
/// <para>
/// Seats are counted without the lock: each class's seats in use (<c>n</c>) and the shared seats in use
/// (<c>S = Σ max(0, n − r)</c>) move by atomic operations only, and a class may start work iff
/// <c>n &lt; max</c> and (<c>n &lt; reserved</c> or <c>S &lt; pool</c>). A shared seat is claimed from the pool before
/// the class's count moves, so the pool is never overdrawn, even for an instant.
/// </para>
/// <para>
/// The lock guards the queues. Waiters publish themselves (<see cref="ClassState.Gate"/>, <c>_minWaitingPriority</c>)
/// before they check for a seat one last time, and releasers free their seat before they look for waiters; with full
/// fences on both sides, one of the two always sees the other, so no seat stays free while a waiter could take it.
/// The fast path steps aside whenever a waiter it must not overtake exists.
/// </para>
/// </remarks>
internal sealed partial class AdmissionEngine : IDisposable
{
    private const int NoWaiters = int.MaxValue;
    private const int Closed = int.MinValue;

    private readonly Lock _lock = new();
    private readonly TimeProvider _timeProvider;
    private readonly ClassState[][] _priorityGroups;
    private readonly int[] _roundRobinCursors;
    private readonly int _pool;

    private int _sharedInUse;
    private int _minWaitingPriority = NoWaiters;
    private int _totalQueued;
    private bool _closed;

    public AdmissionEngine(WorkloadIsolationOptions options, TimeProvider timeProvider)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(timeProvider);

        _timeProvider = timeProvider;
        IEnumerable<KeyValuePair<string, WorkloadClassOptions>> configured = options.Classes.Count > 0
            ? options.Classes
            : [new(options.DefaultClass, new WorkloadClassOptions())];

        Classes = configured
            .Select(pair => new ClassState(this, pair.Key, pair.Value, options, timeProvider))
            .OrderBy(c => c.Priority)
            .ThenBy(c => c.Name, StringComparer.OrdinalIgnoreCase)
            .ToArray();
        _priorityGroups = Classes.GroupBy(c => c.Priority).Select(g => g.ToArray()).ToArray();
        _roundRobinCursors = new int[_priorityGroups.Length];
        TotalConcurrency = options.TotalConcurrency;
        _pool = options.TotalConcurrency - Classes.Sum(c => c.Reserved);
    }

    /// <summary>Gets the classes, most important first.</summary>
    public IReadOnlyList<ClassState> Classes { get; }

    public int TotalConcurrency { get; }

    /// <summary>Gets the shared seats in use; exact whenever no acquire or release is under way.</summary>
    public int SharedInUse => Volatile.Read(ref _sharedInUse);

    public int SharedPool => _pool;

    public WorkloadLease TryAcquire(ClassState workloadClass, string? partition)
    {
        if (IsRateLimited(workloadClass, partition, out WorkloadLease rejected))
        {
            return rejected;
        }

        if (TryTakeSeatFast(workloadClass))
        {
            return LeaseTicket.Issue(workloadClass);
        }

        ValueTask<WorkloadLease> slow = AcquireSlow(workloadClass, partition, wait: false, CancellationToken.None);
        Debug.Assert(slow.IsCompleted, "A try never waits.");
        return slow.Result;
    }

    public ValueTask<WorkloadLease> AcquireAsync(ClassState workloadClass, string? partition, CancellationToken cancellationToken)
    {
        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled<WorkloadLease>(cancellationToken);
        }

        if (IsRateLimited(workloadClass, partition, out WorkloadLease rejected))
        {
            return new ValueTask<WorkloadLease>(rejected);
        }

        if (TryTakeSeatFast(workloadClass))
        {
            return new ValueTask<WorkloadLease>(LeaseTicket.Issue(workloadClass));
        }

        return AcquireSlow(workloadClass, partition, wait: true, cancellationToken);
    }

    /// <summary>Frees a seat taken for a lease; called once per lease by <see cref="LeaseTicket"/>.</summary>
    public void ReleaseSeat(ClassState workloadClass) => GiveBack(workloadClass, -1);

    /// <summary>Frees a seat of a class that counts seats per partition: the partition's count, then the seat, under the lock.</summary>
    public void ReleasePartitionSeat(ClassState workloadClass, PartitionState partition)
    {
        Waiter? completions = null;
        lock (_lock)
        {
            partition.InFlight--;
            Debug.Assert(partition.InFlight >= 0, "A partition frees no more seats than it took.");
            workloadClass.Queue.ForgetIfIdle(partition);
            FreeSeat(workloadClass, -1);
            PumpUnsynchronized(ref completions);
        }

        Complete(completions);
    }

    public void Dispose()
    {
        Waiter? completions = null;
        lock (_lock)
        {
            if (_closed)
            {
                return;
            }

            _closed = true;
            foreach (ClassState c in Classes)
            {
                while (c.Queue.Any is { } waiter)
                {
                    RemoveUnsynchronized(waiter, WaitOutcome.ShuttingDown, ref completions);
                }
            }

            PublishUnsynchronized();
        }

        Complete(completions);
        foreach (ClassState c in Classes)
        {
            c.Scheduler?.Dispose();
        }
    }

    public WorkloadClassSnapshot[] GetSnapshot()
    {
        lock (_lock)
        {
            return Classes.Select(c => new WorkloadClassSnapshot
            {
                Name = c.Name,
                Priority = c.Priority,
                InFlight = c.InFlight,
                Queued = c.Queue.Count,
                ReservedConcurrency = c.Reserved,
                MaxConcurrency = c.Max,
                QueueLimit = c.QueueLimit,
                Admitted = c.Admitted,
                Rejected = Volatile.Read(ref c.Rejected),
                Canceled = Volatile.Read(ref c.Canceled),
            }).ToArray();
        }
    }

    /// <summary>
    /// Checks the class's rate limit before any seat is sought: work over the rate never waits for or holds a seat.
    /// </summary>
    private static bool IsRateLimited(ClassState c, string? partition, out WorkloadLease rejected)
    {
        if (c.RateLimiter is { } limiter && !limiter.TryAcquire(partition, out TimeSpan retryAfter))
        {
            Interlocked.Increment(ref c.Rejected);
            rejected = new WorkloadLease(c.Name, WorkloadRejectionReason.RateLimited, retryAfter);
            return true;
        }

        rejected = default;
        return false;
    }

    /// <summary>
    /// Takes a seat without the lock when no waiter could be overtaken by doing so.
    /// </summary>
    private bool TryTakeSeatFast(ClassState c)
    {
        // Seats counted per partition change under the lock only.
        if (Volatile.Read(ref c.Gate) != 0 || c.LimitsPartitions)
        {
            return false;
        }

        SeatKind kind = TryTakeSeat(c, allowShared: c.Priority < Volatile.Read(ref _minWaitingPriority));
        if (kind == SeatKind.None)
        {
            return false;
        }

        // A waiter that published itself while this seat was being taken found no seat, so it came first: give the
        // seat back and take the slow path, which queues behind it or hands the seat to it.
        if (Volatile.Read(ref c.Gate) == 0 && (kind == SeatKind.Reserved || c.Priority < Volatile.Read(ref _minWaitingPriority)))
        {
            return true;
        }

        GiveBack(c, -ClassState.TakeIncrement);
        return false;
    }

    /// <summary>
    /// Takes a seat of a class if the seat rule allows: a reserved seat while the class is below its reservation,
    /// else, when <paramref name="allowShared"/>, a shared seat while the pool has one and the class is below its maximum.
    /// </summary>
    private SeatKind TryTakeSeat(ClassState c, bool allowShared)
    {
        long word = Volatile.Read(ref c.SeatWord);
        while (true)
        {
            int inFlight = (int)(word & ClassState.SeatMask);
            if (inFlight >= c.Max)
            {
                return SeatKind.None;
            }

            if (inFlight < c.Reserved)
            {
                long seen = Interlocked.CompareExchange(ref c.SeatWord, word + ClassState.TakeIncrement, word);
                if (seen == word)
                {
                    return SeatKind.Reserved;
                }

                word = seen;
                continue;
            }

            if (!allowShared || !TryClaimSharedSeat())
            {
                return SeatKind.None;
            }

            // The shared seat is claimed; now move the class's count, or hand the claim back.
            while (true)
            {
                inFlight = (int)(word & ClassState.SeatMask);
                if (inFlight >= c.Max)
                {
                    Interlocked.Decrement(ref _sharedInUse);
                    return SeatKind.None;
                }

                long seen = Interlocked.CompareExchange(ref c.SeatWord, word + ClassState.TakeIncrement, word);
                if (seen == word)
                {
                    if (inFlight < c.Reserved)
                    {
                        // A reserved seat freed meanwhile and this admission took it: the shared claim is not needed.
                        Interlocked.Decrement(ref _sharedInUse);
                        return SeatKind.Reserved;
                    }

                    return SeatKind.Shared;
                }

                word = seen;
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private bool TryClaimSharedSeat()
    {
        int inUse = Volatile.Read(ref _sharedInUse);
        while (inUse < _pool)
        {
            int seen = Interlocked.CompareExchange(ref _sharedInUse, inUse + 1, inUse);
            if (seen == inUse)
            {
                return true;
            }

            inUse = seen;
        }

        return false;
    }

    /// <summary>
    /// Frees a seat (<paramref name="delta"/> -1 for a release, minus <see cref="ClassState.TakeIncrement"/> to undo an
    /// admission), then hands free seats to waiters if there are any.
    /// </summary>
    private void GiveBack(ClassState c, long delta)
    {
        FreeSeat(c, delta);
        if (Volatile.Read(ref _minWaitingPriority) != NoWaiters)
        {
            Pump();
        }
    }

    private void FreeSeat(ClassState c, long delta)
    {
        long before = Interlocked.Add(ref c.SeatWord, delta) - delta;
        if ((int)(before & ClassState.SeatMask) > c.Reserved)
        {
            Interlocked.Decrement(ref _sharedInUse);
        }
    }

    private void Pump()
    {
        Waiter? completions = null;
        lock (_lock)
        {
            PumpUnsynchronized(ref completions);
        }

        Complete(completions);
    }
}
