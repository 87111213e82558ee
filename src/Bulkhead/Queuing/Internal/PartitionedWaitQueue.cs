using System.Diagnostics;
using Bulkhead.Admission.Internal;

namespace Bulkhead.Queuing.Internal;

/// <summary>
/// The waiters of one workload class, grouped by partition and served round robin across partitions, so one noisy
/// tenant cannot take its class over. Not thread-safe: the engine's lock guards it.
/// </summary>
/// <remarks>
/// Memory stays bounded whatever the number of distinct keys: a partition is tracked only while it has waiters (or,
/// where the class limits partitions, work in flight) and is forgotten when idle; past <c>maxTracked</c> partitions,
/// further keys share <see cref="OverflowPartitions"/> partitions by hash.
/// </remarks>
internal sealed class PartitionedWaitQueue(int maxTracked, int partitionLimit)
{
    private int _maxTracked = maxTracked;
    private int _partitionLimit = partitionLimit;

    /// <summary>How many shared partitions take the keys past the cap.</summary>
    public const int OverflowPartitions = 64;

    /// <summary>How many forgotten partition states are kept for reuse, so a returning key allocates nothing.</summary>
    private const int ReusedStates = 64;

    private readonly Dictionary<string, PartitionState> _tracked = new(StringComparer.Ordinal);
    private readonly Stack<PartitionState> _reusable = new();
    private PartitionState?[]? _overflow;

    // The ring of partitions with waiters; the cursor is served next.
    private PartitionState? _cursor;

    /// <summary>Gets a waiter, any: the head of the partition served next.</summary>
    public Waiter? Any => _cursor?.Waiters.First;

    /// <summary>Gets the number of waiters across partitions.</summary>
    public int Count { get; private set; }

    /// <summary>Gets the number of partitions tracked by key (the shared overflow partitions are not counted).</summary>
    public int TrackedPartitions => _tracked.Count;

    /// <summary>Gets the most work in flight per partition, or 0 for no limit.</summary>
    public int PartitionLimit => _partitionLimit;

    /// <summary>Applies new limits: waiters and partitions stay where they are; a key whose work is somewhere keeps it there.</summary>
    public void Reconfigure(int maxTracked, int partitionLimit)
    {
        _maxTracked = maxTracked;
        _partitionLimit = partitionLimit;
    }

    /// <summary>Finds a partition's state without starting to track it.</summary>
    /// <remarks>
    /// A key stays where its work is: a tracked key until it is idle, and a key whose overflow partition still has
    /// waiters or work in flight keeps that partition even when room to track it has come back, so that no key's
    /// work is ever counted in two places.
    /// </remarks>
    public PartitionState? Find(string key)
    {
        if (_tracked.TryGetValue(key, out PartitionState? state))
        {
            return state;
        }

        PartitionState? overflow = _overflow?[OverflowIndex(key)];
        if (overflow is not null && (overflow.InFlight > 0 || overflow.Waiters.Count > 0))
        {
            return overflow;
        }

        return _tracked.Count >= _maxTracked ? Overflow(key) : null;
    }

    /// <summary>Finds a partition's state, tracking it if needed (or sharing an overflow partition past the cap).</summary>
    public PartitionState Track(string key)
    {
        if (Find(key) is { } state)
        {
            return state;
        }

        if (_reusable.TryPop(out state))
        {
            state.Key = key;
        }
        else
        {
            state = new PartitionState(key, isOverflow: false);
        }

        _tracked.Add(key, state);
        return state;
    }

    /// <summary>Whether a partition may start one more unit of work under the class's per-partition limit.</summary>
    public bool HasRoom(PartitionState? partition) => _partitionLimit == 0 || partition is null || partition.InFlight < _partitionLimit;

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

        if (!partition.IsActive)
        {
            Activate(partition);
        }

        Count++;
    }

    /// <summary>
    /// The waiter to serve next: the head of the first partition, from the cursor on, whose per-partition limit lets it
    /// start; <see langword="null"/> when every waiting partition is at its limit (or none waits).
    /// </summary>
    public Waiter? PeekEligible()
    {
        PartitionState? partition = _cursor;
        if (partition is null)
        {
            return null;
        }

        do
        {
            if (HasRoom(partition))
            {
                return partition.Waiters.First;
            }

            partition = partition.NextActive!;
        }
        while (partition != _cursor);

        return null;
    }

    /// <summary>
    /// Removes a waiter. When it is being served, the cursor moves to the partition after its own: partitions take turns.
    /// </summary>
    public void Remove(Waiter waiter, bool served)
    {
        PartitionState partition = waiter.Partition!;
        PartitionState? next = partition.NextActive;
        partition.Waiters.Remove(waiter);
        Count--;
        if (served)
        {
            _cursor = next;
        }

        if (partition.Waiters.Count == 0)
        {
            Deactivate(partition);
            ForgetIfIdle(partition);
        }

        Debug.Assert(Count >= 0 && (Count == 0) == (_cursor is null), "The ring holds exactly the partitions with waiters.");
    }

    /// <summary>Stops tracking a partition that has neither waiters nor work in flight.</summary>
    public void ForgetIfIdle(PartitionState partition)
    {
        if (!partition.IsOverflow && partition.Waiters.Count == 0 && partition.InFlight == 0 && _tracked.Remove(partition.Key)
            && _reusable.Count < ReusedStates)
        {
            _reusable.Push(partition);
        }
    }

    /// <summary>
    /// Chooses whom a full queue turns away so that a newcomer of <paramref name="newcomerKey"/> can wait: a waiter of
    /// the partition with the most waiters (its newest for first-in-first-out, its oldest for last-in-first-out), or
    /// <see langword="null"/> to turn the newcomer away, when its own partition would then be the largest.
    /// </summary>
    public Waiter? ChooseEvictionVictim(string newcomerKey, bool lifo)
    {
        PartitionState? largest = null;
        for (PartitionState? p = _cursor; p is not null; p = p.NextActive == _cursor ? null : p.NextActive)
        {
            if (largest is null || p.Waiters.Count > largest.Waiters.Count)
            {
                largest = p;
            }
        }

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

    private static int OverflowIndex(string key) => (int)((uint)StringComparer.Ordinal.GetHashCode(key) % OverflowPartitions);

    private PartitionState Overflow(string key)
    {
        _overflow ??= new PartitionState?[OverflowPartitions];
        int index = OverflowIndex(key);
        return _overflow[index] ??= new PartitionState($"(overflow {index})", isOverflow: true);
    }

    /// <summary>Adds a partition at the end of the current round: just before the cursor.</summary>
    private void Activate(PartitionState partition)
    {
        partition.IsActive = true;
        if (_cursor is null)
        {
            partition.NextActive = partition;
            partition.PreviousActive = partition;
            _cursor = partition;
            return;
        }

        PartitionState last = _cursor.PreviousActive!;
        last.NextActive = partition;
        partition.PreviousActive = last;
        partition.NextActive = _cursor;
        _cursor.PreviousActive = partition;
    }

    private void Deactivate(PartitionState partition)
    {
        partition.IsActive = false;
        if (partition.NextActive == partition)
        {
            _cursor = null;
        }
        else
        {
            partition.PreviousActive!.NextActive = partition.NextActive;
            partition.NextActive!.PreviousActive = partition.PreviousActive;
            if (_cursor == partition)
            {
                _cursor = partition.NextActive;
            }
        }

        partition.NextActive = null;
        partition.PreviousActive = null;
    }
}
