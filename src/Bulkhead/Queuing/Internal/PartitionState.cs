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

    /// <summary>Gets or sets the next partition with as many waiters (the most recent to reach that number first).</summary>
    public PartitionState? NextOfSize { get; set; }

    public PartitionState? PreviousOfSize { get; set; }

    /// <summary>
    /// Gets or sets a value indicating whether the partition is idle (no waiters, no work in flight) but still known by
    /// key, in the list of recently idle partitions (linked by <see cref="NextIdle"/>): it counts as untracked, and is
    /// taken up again as is when its key returns.
    /// </summary>
    public bool IsIdle { get; set; }

    public PartitionState? NextIdle { get; set; }

    public PartitionState? PreviousIdle { get; set; }

    public override string ToString() => Key;
}
