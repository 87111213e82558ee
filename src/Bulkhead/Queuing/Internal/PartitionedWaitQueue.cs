using System.Diagnostics;
using System.Runtime.InteropServices;
using Bulkhead.Admission.Internal;

namespace Bulkhead.Queuing.Internal;

/// <summary>
/// The waiters of one workload class, grouped by partition and served round robin across partitions, so one noisy
/// tenant cannot take its class over. Turns are counted in seats (deficit round robin): a partition served a unit of
/// <c>w</c> seats gives up its next <c>w − 1</c> turns, so a tenant sending wide work gets its share of seats, not of
/// units. Not thread-safe: the engine's lock guards it.
/// </summary>
/// <remarks>
/// Memory stays bounded whatever the number of distinct keys: a partition is tracked only while it has waiters (or,
/// where the class limits partitions, work in flight); past <c>maxTracked</c> partitions, further keys share
/// <see cref="OverflowPartitions"/> partitions by hash. An idle partition counts as untracked, but the last
/// <see cref="IdleKept"/> of them stay known by key, so that a key that comes and goes (one request at a time) is taken
/// up again without being forgotten and found anew each time.
/// <para>
/// Nothing here grows with the number of partitions: the ring holds only partitions that may start work, so the next
/// waiter is the cursor's head; a partition at its per-partition limit waits in a held list and rejoins the ring at the
/// end of the round when a seat of it frees; partitions are also kept in lists by number of waiters, so the largest is
/// at hand when a full queue must turn one away.
/// </para>
/// </remarks>
internal sealed partial class PartitionedWaitQueue(int maxTracked, int partitionLimit, int widest = int.MaxValue)
{
    private int _maxTracked = maxTracked;
    private int _partitionLimit = partitionLimit;
    private int _widest = widest;

    /// <summary>How many shared partitions take the keys past the cap.</summary>
    public const int OverflowPartitions = 64;

    /// <summary>How many forgotten partition states are kept for reuse, so a returning key allocates nothing.</summary>
    private const int ReusedStates = 64;

    /// <summary>How many idle partitions stay known by key (the most recently idle).</summary>
    public const int IdleKept = 64;

    private readonly Dictionary<string, PartitionState> _tracked = new(StringComparer.Ordinal);
    private readonly Stack<PartitionState> _reusable = new();
    private PartitionState?[]? _overflow;

    // The ring of partitions with waiters that may start work; the cursor is served next.
    private PartitionState? _cursor;

    // Partitions with waiters at their per-partition limit, in the order they reached it (a ring, by NextActive).
    private PartitionState? _held;

    // Partitions with waiters by their number of waiters (index), each list most recent first; and the largest number.
    private readonly List<IntrusiveList<PartitionState, PartitionState.OfSize>> _bySize = [default];
    private int _largest;

    // Idle partitions still known by key, least recently idle first.
    private IntrusiveList<PartitionState, PartitionState.Idle> _idle;
    private int _idleCount;

    /// <summary>Gets a waiter, any: the head of the partition served next, or of a held one.</summary>
    public Waiter? Any => _cursor?.Waiters.First ?? _held?.Waiters.First;

    /// <summary>Gets the number of waiters across partitions.</summary>
    public int Count { get; private set; }

    /// <summary>Gets the number of partitions tracked by key (idle ones still known and the shared overflow partitions are not counted).</summary>
    public int TrackedPartitions => _tracked.Count - _idleCount;

    /// <summary>Gets the number of partitions known by key: those tracked and the idle ones still kept (memory, for tests).</summary>
    public int KnownPartitions => _tracked.Count;

    /// <summary>Gets the most work in flight per partition, or 0 for no limit.</summary>
    public int PartitionLimit => _partitionLimit;

    /// <summary>Applies new limits: waiters and partitions stay where they are; a key whose work is somewhere keeps it there.</summary>
    public void Reconfigure(int maxTracked, int partitionLimit, int widest = int.MaxValue)
    {
        _maxTracked = maxTracked;
        _partitionLimit = partitionLimit;
        _widest = widest;

        // A new limit may hold partitions of the ring (in ring order from the cursor), and free held ones (in the order
        // they were held), which rejoin at the end of the round.
        for (PartitionState? p = _cursor, end = _cursor?.PreviousActive; p is not null;)
        {
            PartitionState? next = p == end ? null : p.NextActive;
            if (!HasRoom(p))
            {
                Deactivate(p);
                Hold(p);
            }

            p = next;
        }

        ReleaseHeld();
        Settle();
    }

    /// <summary>A seat of a partition freed: at its limit until now, it rejoins the ring at the end of the round.</summary>
    public void SeatFreed(PartitionState partition)
    {
        if (partition.IsHeld && HasRoom(partition))
        {
            Unhold(partition);
            Activate(partition);
            Settle();
        }

        ForgetIfIdle(partition);
    }

    /// <summary>Whether a partition may start its next waiter (the head of its queue) under the class's per-partition limit.</summary>
    public bool HasRoom(PartitionState partition) =>
        _partitionLimit == 0 || partition.InFlight + SeatsFor(partition.Waiters.First?.Weight ?? 1) <= _partitionLimit;

    /// <summary>Whether a partition may start a unit of work of <paramref name="seats"/> under the class's per-partition limit.</summary>
    public bool HasRoom(PartitionState? partition, int seats) => _partitionLimit == 0 || partition is null || partition.InFlight + seats <= _partitionLimit;

    /// <summary>The seats a waiter of <paramref name="weight"/> takes under the limits in force.</summary>
    public int SeatsFor(int weight) => Math.Min(weight, _widest);

    public void Add(Waiter waiter, bool lifo)
    {
        PartitionState partition = Track(waiter.PartitionKey);
        waiter.Partition = partition;
        if (lifo)
        {
            partition.Waiters.AddFirst(waiter);
        }
        else
        {
            partition.Waiters.AddLast(waiter);
        }

        Count++;
        Resize(partition, partition.Waiters.Count - 1);
        if (partition.Waiters.Count == 1)
        {
            if (HasRoom(partition))
            {
                Activate(partition);
            }
            else
            {
                Hold(partition);
            }
        }
        else if (lifo)
        {
            // A new head may be wider or narrower than the one before it.
            Recheck(partition);
        }

        Settle();
    }

    /// <summary>
    /// The waiter to serve next: the head of the partition at the cursor (partitions at their limit are out of the
    /// ring); <see langword="null"/> when every waiting partition is at its limit (or none waits).
    /// </summary>
    public Waiter? PeekEligible() => _cursor?.Waiters.First;

    /// <summary>
    /// Removes a waiter. When it is being served, the cursor moves to the partition after its own: partitions take
    /// turns. A partition that reaches its limit by it leaves the ring until a seat of it frees.
    /// </summary>
    /// <remarks>The engine counts a served waiter's partition seat before removing it.</remarks>
    public void Remove(Waiter waiter, bool served)
    {
        PartitionState partition = waiter.Partition!;
        PartitionState? next = partition.NextActive;
        partition.Waiters.Remove(waiter);
        Count--;
        Resize(partition, partition.Waiters.Count + 1);
        if (served)
        {
            Debug.Assert(partition.IsActive, "Only a partition of the ring is served.");
            partition.Debt += waiter.Seats - 1;
            _cursor = next;
        }

        if (partition.Waiters.Count == 0)
        {
            if (partition.IsHeld)
            {
                Unhold(partition);
            }
            else
            {
                Deactivate(partition);
            }

            ForgetIfIdle(partition);
        }
        else
        {
            Recheck(partition);
        }

        Settle();
        Debug.Assert(Count >= 0 && (Count == 0) == (_cursor is null && _held is null), "The ring and the held list hold exactly the partitions with waiters.");
    }

    /// <summary>
    /// A partition with waiters whose head or count changed: one at its limit leaves the ring for the held list, and
    /// a held one with room again (a narrower head) rejoins the ring at the end of the round.
    /// </summary>
    private void Recheck(PartitionState partition)
    {
        if (partition.IsActive && !HasRoom(partition))
        {
            Deactivate(partition);
            Hold(partition);
        }
        else if (partition.IsHeld && HasRoom(partition))
        {
            Unhold(partition);
            Activate(partition);
        }
    }

    /// <summary>
    /// Moves the cursor past the partitions that owe turns, each giving up one as it is passed; nothing is skipped
    /// when no partition was served wider than one seat.
    /// </summary>
    private void Settle()
    {
        while (_cursor is { Debt: > 0 } owing)
        {
            owing.Debt--;
            _cursor = owing.NextActive;
        }
    }

    /// <summary>Gets when the longest waiting waiter arrived (a TimeProvider timestamp), or <see langword="null"/> with none.</summary>
    public long? OldestEnqueuedTimestamp()
    {
        long? oldest = null;
        foreach (Waiter w in All())
        {
            oldest = oldest is { } seen && seen <= w.EnqueuedTimestamp ? seen : w.EnqueuedTimestamp;
        }

        return oldest;
    }

    /// <summary>
    /// Gets every waiter: the ring's partitions from the cursor, then the held ones, each in its order. For the paths
    /// that must see them all (a snapshot, a class shed); the queue must not change while it is enumerated.
    /// </summary>
    public IEnumerable<Waiter> All()
    {
        foreach (PartitionState? head in new[] { _cursor, _held })
        {
            for (PartitionState? p = head; p is not null; p = p.NextActive == head ? null : p.NextActive)
            {
                for (Waiter? w = p.Waiters.First; w is not null; w = WaitQueue.NextOf(w))
                {
                    yield return w;
                }
            }
        }
    }

    /// <summary>
    /// Chooses whom a full queue turns away so that a newcomer of <paramref name="newcomerKey"/> can wait: a waiter of
    /// the partition with the most waiters (its newest for first-in-first-out, its oldest for last-in-first-out), or
    /// <see langword="null"/> to turn the newcomer away, when its own partition would then be the largest.
    /// </summary>
    public Waiter? ChooseEvictionVictim(string newcomerKey, bool lifo)
    {
        // The partition with the most waiters; of equals, the one that came to that number last.
        PartitionState? largest = _bySize[_largest].First;
        if (largest is null)
        {
            return null;
        }

        if (lifo)
        {
            return largest.Waiters.Last;
        }

        int newcomerQueued = Find(newcomerKey)?.Waiters.Count ?? 0;
        return newcomerQueued + 1 < largest.Waiters.Count ? largest.Waiters.Last : null;
    }

    /// <summary>Adds a partition at the end of the current round: just before the cursor.</summary>
    private void Activate(PartitionState partition)
    {
        partition.IsActive = true;
        Append(ref _cursor, partition);
    }

    /// <summary>Moves a partition from the list of its former number of waiters to that of its number now, at the front.</summary>
    private void Resize(PartitionState partition, int from)
    {
        if (from > 0)
        {
            CollectionsMarshal.AsSpan(_bySize)[from].Remove(partition);
        }

        int size = partition.Waiters.Count;
        if (size > 0)
        {
            while (_bySize.Count <= size)
            {
                _bySize.Add(default);
            }

            CollectionsMarshal.AsSpan(_bySize)[size].AddFirst(partition);
        }

        // Sizes move by one: the largest moves up with a partition, or down when its list empties.
        if (size > _largest)
        {
            _largest = size;
        }
        else if (_largest > 0 && _bySize[_largest].First is null)
        {
            _largest--;
        }
    }

    /// <summary>Puts a partition with waiters at its limit at the end of the held list.</summary>
    private void Hold(PartitionState partition)
    {
        partition.IsHeld = true;
        Append(ref _held, partition);
    }

    private void Unhold(PartitionState partition)
    {
        partition.IsHeld = false;
        Unlink(ref _held, partition);
    }

    /// <summary>Moves every held partition that has room again to the end of the round, in the order they were held.</summary>
    private void ReleaseHeld()
    {
        for (PartitionState? p = _held, end = _held?.PreviousActive; p is not null;)
        {
            PartitionState? next = p == end ? null : p.NextActive;
            if (HasRoom(p))
            {
                Unhold(p);
                Activate(p);
            }

            p = next;
        }
    }

    private void Deactivate(PartitionState partition)
    {
        partition.IsActive = false;
        Unlink(ref _cursor, partition);
    }

    /// <summary>Links a partition into a ring just before its head (its end); it becomes the head of an empty ring.</summary>
    private static void Append(ref PartitionState? head, PartitionState partition)
    {
        if (head is null)
        {
            partition.NextActive = partition;
            partition.PreviousActive = partition;
            head = partition;
            return;
        }

        PartitionState last = head.PreviousActive!;
        last.NextActive = partition;
        partition.PreviousActive = last;
        partition.NextActive = head;
        head.PreviousActive = partition;
    }

    /// <summary>Unlinks a partition from a ring; a head that leaves passes to the partition after it.</summary>
    private static void Unlink(ref PartitionState? head, PartitionState partition)
    {
        if (partition.NextActive == partition)
        {
            head = null;
        }
        else
        {
            partition.PreviousActive!.NextActive = partition.NextActive;
            partition.NextActive!.PreviousActive = partition.PreviousActive;
            if (head == partition)
            {
                head = partition.NextActive;
            }
        }

        partition.NextActive = null;
        partition.PreviousActive = null;
    }
}
