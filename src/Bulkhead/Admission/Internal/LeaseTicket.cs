using System.Runtime.CompilerServices;
using System.Threading.RateLimiting;
using Bulkhead.Queuing.Internal;

namespace Bulkhead.Admission.Internal;

/// <summary>
/// The shared, pooled half of a <see cref="WorkloadLease"/>. A lease is a struct that users copy freely; the ticket's
/// version makes exactly one of all those copies free the seat, and makes a stale copy harmless once the ticket is reused.
/// </summary>
/// <remarks>
/// What a seat holds besides itself (its partition's count, the class limiter's lease) shares one field, empty for the
/// common seat, so that freeing one stays as small as the fast path that took it.
/// </remarks>
internal sealed class LeaseTicket
{
    private int _version;
    private ClassState? _class;
    private object? _held;

    // The class's seat-time observers when the lease was issued, and which of them (bit i: observer i) its seat time
    // goes to; what its request named (a cost key), if anything.
    private SeatTimeObserver[]? _observers;
    private int _timing;
    private long _heldSince;
    private string? _key;

    // Granted while more of its partition's work waited: its work runs on the class's backlog threads.
    private bool _backlogged;

    /// <summary>
    /// Issues a lease for a seat taken (or <paramref name="seats"/> of them, for a unit of work of some weight);
    /// <paramref name="partition"/> where the class counts seats per partition, and the class limiter's lease where it
    /// holds one (a concurrency limit), freed with the seat.
    /// </summary>
    public static WorkloadLease Issue(ClassState workloadClass, PartitionState? partition = null, RateLimitLease? limiterLease = null, int seats = 1, bool backlogged = false)
    {
        LeaseTicket ticket = LeaseTicketPool.Rent();
        ticket._class = workloadClass;
        ticket._backlogged = backlogged;
        ticket._held = seats > 1 || (partition is not null && limiterLease is not null)
            ? new Held(partition, limiterLease, seats)
            : partition is null ? limiterLease : partition;
        if (workloadClass.SeatObservers is { } observers)
        {
            ticket.StartTiming(workloadClass, observers);
        }

        return new WorkloadLease(ticket, Volatile.Read(ref ticket._version), workloadClass.Name);
    }

    /// <summary>
    /// Issues an acquired lease in Observe mode for work that Enforce would have kept waiting (<paramref name="wait"/>)
    /// or rejected (<see langword="null"/>): it holds no seat of its own; disposing it ends the wait.
    /// </summary>
    public static WorkloadLease IssueObserved(ClassState workloadClass, ObservedWait? wait)
    {
        LeaseTicket ticket = LeaseTicketPool.Rent();
        ticket._class = workloadClass;
        ticket._backlogged = false;
        ticket._held = wait ?? ObservedWait.Nothing;
        return new WorkloadLease(ticket, Volatile.Read(ref ticket._version), workloadClass.Name);
    }

    /// <summary>The class whose seat a lease of this version holds, or <see langword="null"/> once it is freed.</summary>
    public ClassState? ClassOf(int version)
    {
        ClassState? owner = Volatile.Read(ref _class);
        return Volatile.Read(ref _version) == version ? owner : null;
    }

    /// <summary>Whether a lease of this version was granted while more of its partition's work waited.</summary>
    public bool IsBacklogged(int version) => _backlogged && Volatile.Read(ref _version) == version;

    public void Release(int version)
    {
        // Read the class before the version moves on: once it has, another acquirer may rent and rebind this ticket.
        ClassState? owner = Volatile.Read(ref _class);
        if (owner is null || Interlocked.CompareExchange(ref _version, version + 1, version) != version)
        {
            return;
        }

        object? held = _held;
        SeatTimeObserver[]? observers = _observers;
        int timing = _timing;
        long heldSince = _heldSince;
        string? key = _key;
        _class = null;
        _held = null;
        _observers = null;
        _timing = 0;
        _key = null;
        LeaseTicketPool.Return(this);

        // Recorded before the seat frees: whoever the freed seat admits next sees what this unit taught (its learned
        // weight, the objective's measure).
        if (timing != 0)
        {
            RecordSeatTime(owner, observers!, timing, heldSince, key);
        }

        if (held is null)
        {
            owner.Engine.ReleaseSeat(owner);
        }
        else
        {
            ReleaseHeld(owner, held);
        }
    }

    /// <summary>Makes a lease of this version tell <paramref name="observer"/> its seat-holding time, for <paramref name="key"/>.</summary>
    public void TimeFor(int version, SeatTimeObserver observer, string key)
    {
        if (ClassOf(version) is not { } owner)
        {
            return;
        }

        // The observer is one of the class's when the lease was issued, unless a reload came between.
        SeatTimeObserver[]? observers = _observers ?? owner.SeatObservers;
        int index = observers is null ? -1 : Array.IndexOf(observers, observer);
        if (index < 0)
        {
            return;
        }

        if (_timing == 0)
        {
            _heldSince = owner.Engine.TimeProvider.GetTimestamp();
            _observers = observers;
        }

        _key = key;
        _timing |= 1 << index;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void RecordSeatTime(ClassState owner, SeatTimeObserver[] observers, int timing, long heldSince, string? key)
    {
        TimeSpan held = owner.Engine.TimeProvider.GetElapsedTime(heldSince);
        for (int i = 0; i < observers.Length; i++)
        {
            if ((timing & (1 << i)) != 0)
            {
                observers[i].Record(owner, held, key);
            }
        }
    }

    /// <summary>Asks each of the class's observers whether this lease's seat-holding time is theirs to learn from.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private void StartTiming(ClassState workloadClass, SeatTimeObserver[] observers)
    {
        int timing = 0;
        for (int i = 0; i < observers.Length; i++)
        {
            if (observers[i].Times(workloadClass))
            {
                timing |= 1 << i;
            }
        }

        if (timing != 0)
        {
            _heldSince = workloadClass.Engine.TimeProvider.GetTimestamp();
            _observers = observers;
            _timing = timing;
        }
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void ReleaseHeld(ClassState owner, object held)
    {
        if (held is ObservedWait wait)
        {
            wait.End();
            return;
        }

        if (held == ObservedWait.Nothing)
        {
            return;
        }

        (PartitionState? partition, RateLimitLease? limiterLease, int seats) = held switch
        {
            PartitionState p => (p, null, 1),
            RateLimitLease l => ((PartitionState?)null, l, 1),
            _ => (((Held)held).Partition, ((Held)held).LimiterLease, ((Held)held).Seats),
        };

        if (partition is not null)
        {
            owner.Engine.ReleasePartitionSeat(owner, partition, seats);
        }
        else
        {
            owner.Engine.ReleaseSeats(owner, seats);
        }

        // The limiter's lease (a concurrency permit, a remote seat) is freed with the seat.
        limiterLease?.Dispose();
    }

    /// <summary>What a seat holds when it is more than one field: several seats (a unit of work of some weight), or a partition's count and a limiter's lease.</summary>
    private sealed record Held(PartitionState? Partition, RateLimitLease? LimiterLease, int Seats);
}
