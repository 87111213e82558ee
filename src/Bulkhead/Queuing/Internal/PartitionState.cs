namespace Bulkhead.Queuing.Internal;

/// <summary>
/// The waiters of one partition (tenant, user, key) of a class, and its work in flight where the class limits
/// partitions. Guarded by the engine's lock.
/// </summary>
internal sealed class PartitionState(string key, bool isOverflow)
{
    /// <summary>Gets or sets the partition key; set again when a forgotten state is reused for another key.</summary>
    public string Key { get; set; } = key;

    /// <summary>Gets a value indicating whether this is one of the shared partitions that keys past the cap hash to.</summary>
    public bool IsOverflow { get; } = isOverflow;

    public WaitQueue Waiters { get; } = new();

    /// <summary>Gets or sets the partition's seats in use; counted only where the class limits partitions.</summary>
    public int InFlight { get; set; }

    /// <summary>
    /// Gets or sets the turns the partition owes: a waiter served with <c>w</c> seats took its turn and <c>w − 1</c>
    /// more, which the partition gives up as the turns come round (deficit round robin, counted in seats).
    /// </summary>
    public int Debt { get; set; }

    /// <summary>Gets or sets a value indicating whether the partition is in the ring of partitions with waiters.</summary>
    public bool IsActive { get; set; }

    public PartitionState? NextActive { get; set; }

    public PartitionState? PreviousActive { get; set; }

    /// <summary>
    /// Gets or sets a value indicating whether the partition has waiters but is at its per-partition limit: it is out of
    /// the ring of partitions served in turn (linked by <see cref="NextActive"/> in the held list instead) until a seat
    /// of it frees.
    /// </summary>
    public bool IsHeld { get; set; }

    /// <summary>The partition's links among the partitions with as many waiters (the most recent to reach that number first).</summary>
    public ListLinks<PartitionState> SizeLinks;

    /// <summary>
    /// Gets or sets a value indicating whether the partition is idle (no waiters, no work in flight) but still known by
    /// key, in the list of recently idle partitions (linked by <see cref="IdleLinks"/>): it counts as untracked, and is
    /// taken up again as is when its key returns.
    /// </summary>
    public bool IsIdle { get; set; }

    /// <summary>The partition's links among the idle partitions still known by key.</summary>
    public ListLinks<PartitionState> IdleLinks;

    public override string ToString() => Key;

    /// <summary>Selects a partition's links among the partitions with as many waiters.</summary>
    internal readonly struct OfSize : IListLinks<PartitionState>
    {
        public static ref ListLinks<PartitionState> Of(PartitionState node) => ref node.SizeLinks;
    }

    /// <summary>Selects a partition's links among the idle partitions.</summary>
    internal readonly struct Idle : IListLinks<PartitionState>
    {
        public static ref ListLinks<PartitionState> Of(PartitionState node) => ref node.IdleLinks;
    }
}
