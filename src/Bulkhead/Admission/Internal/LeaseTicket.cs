using System.Runtime.CompilerServices;
using System.Threading.RateLimiting;
using Bulkhead.Queuing.Internal;
using Bulkhead.Telemetry.Internal;

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
    private const int ForMetrics = 1;
    private const int ForSeatTimes = 2;
    private const int ForLearnedCost = 4;

    // The kind of work whose learned weight this lease's seat-holding time teaches, or null.
    private string? _costKey;

    private long _heldSince;
    private int _timing;

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
        if (workloadClass.TimesSeats || workloadClass.Engine.Metrics is { SeatDuration.Enabled: true })
        {
            ticket.StartTiming(workloadClass);
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
        int timing = _timing;
        long heldSince = _heldSince;
        string? costKey = _costKey;
        _class = null;
        _held = null;
        _timing = 0;
        _costKey = null;
        LeaseTicketPool.Return(this);

        // Recorded before the seat frees: whoever the freed seat admits next sees what this unit taught (its learned
        // cost, the objective's measure).
        if (timing != 0)
        {
            RecordSeatTime(owner, timing, heldSince, costKey);
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

    /// <summary>Makes a lease of this version measure its seat-holding time for <paramref name="costKey"/>, if it does not already.</summary>
    public void TeachOnRelease(int version, string costKey)
    {
        if (ClassOf(version) is not { } owner)
        {
            return;
        }

        _costKey = costKey;
        if (_timing == 0)
        {
            _heldSince = owner.Engine.TimeProvider.GetTimestamp();
        }

        _timing |= ForLearnedCost;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void RecordSeatTime(ClassState owner, int timing, long heldSince, string? costKey)
    {
        TimeSpan held = owner.Engine.TimeProvider.GetElapsedTime(heldSince);
        if ((timing & ForLearnedCost) != 0 && costKey is not null && owner.Limits.LearnedWeight is { } learned)
        {
            owner.LearnedWeights?.Record(costKey, held, learned);
        }

        if ((timing & ForSeatTimes) != 0)
        {
            owner.SeatTimes?.Record(held);
        }

        if ((timing & ForMetrics) != 0)
        {
            owner.Engine.Metrics?.RecordSeatDuration(owner, held);
        }
    }

    /// <summary>
    /// Measures this lease's seat-holding time: always for a class's objective, and, when it is the class's turn to be
    /// sampled, for the metrics and for the history.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private void StartTiming(ClassState workloadClass)
    {
        int timing = workloadClass.Limits.TimesSeats ? ForSeatTimes : 0;
        WorkloadIsolationMetrics? metrics = workloadClass.Engine.Metrics;
        bool metered = metrics is { SeatDuration.Enabled: true };
        if ((metered || workloadClass.Engine.KeepsHistory) && workloadClass.SeatDurationSample++ % WorkloadIsolationMetrics.SeatDurationSampling == 0)
        {
            timing |= (metered ? ForMetrics : 0) | (workloadClass.Engine.KeepsHistory ? ForSeatTimes : 0);
        }

        if (timing != 0)
        {
            _heldSince = workloadClass.Engine.TimeProvider.GetTimestamp();
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
