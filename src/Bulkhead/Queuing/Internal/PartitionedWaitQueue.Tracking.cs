namespace Bulkhead.Queuing.Internal;

/// <summary>
/// Which partitions the queue knows by key: those with waiters or work in flight, the last idle ones, and past the cap
/// the shared overflow partitions, so that memory stays bounded whatever the number of distinct keys.
/// </summary>
internal sealed partial class PartitionedWaitQueue
{
    /// <summary>Finds a partition's state without starting to track it.</summary>
    /// <remarks>
    /// A key stays where its work is: a tracked key until it is idle, and a key whose overflow partition still has
    /// waiters or work in flight keeps that partition even when room to track it has come back, so that no key's
    /// work is ever counted in two places.
    /// </remarks>
    public PartitionState? Find(string key)
    {
        PartitionState? known = null;
        if (_tracked.TryGetValue(key, out PartitionState? state))
        {
            if (!state.IsIdle)
            {
                return state;
            }

            // Idle: untracked, as a new key would be; if it may be tracked, it is taken up again as is.
            known = state;
        }

        PartitionState? overflow = _overflow?[OverflowIndex(key)];
        if (overflow is not null && (overflow.InFlight > 0 || overflow.Waiters.Count > 0))
        {
            return overflow;
        }

        return TrackedPartitions >= _maxTracked ? Overflow(key) : known;
    }

    /// <summary>Finds a partition's state, tracking it if needed (or sharing an overflow partition past the cap).</summary>
    public PartitionState Track(string key) => Track(Find(key), key);

    /// <summary>Starts tracking a key that <see cref="Find"/> just did not find, or found idle.</summary>
    public PartitionState Track(PartitionState? found, string key)
    {
        if (found is null)
        {
            return TrackNew(key);
        }

        if (found.IsIdle)
        {
            UnlinkIdle(found);
        }

        return found;
    }

    /// <summary>Starts tracking a key that <see cref="Find"/> just did not find.</summary>
    public PartitionState TrackNew(string key)
    {
        if (_reusable.TryPop(out PartitionState? state))
        {
            state.Key = key;
            state.Debt = 0;
        }
        else
        {
            state = new PartitionState(key, isOverflow: false);
        }

        _tracked.Add(key, state);
        return state;
    }

    /// <summary>
    /// Stops tracking a partition that has neither waiters nor work in flight: it joins the idle partitions still known
    /// by key, and the least recently idle one past <see cref="IdleKept"/> is forgotten.
    /// </summary>
    public void ForgetIfIdle(PartitionState partition)
    {
        if (partition.IsOverflow || partition.IsIdle || partition.Waiters.Count != 0 || partition.InFlight != 0)
        {
            return;
        }

        // Turns owed are forgiven once a partition has nothing waiting and nothing running, as deficit round robin forgets an emptied queue's deficit.
        partition.IsIdle = true;
        partition.Debt = 0;
        _idle.AddLast(partition);
        if (++_idleCount > IdleKept && _idle.First is { } oldest)
        {
            UnlinkIdle(oldest);
            _tracked.Remove(oldest.Key);
            if (_reusable.Count < ReusedStates)
            {
                _reusable.Push(oldest);
            }
        }
    }

    private void UnlinkIdle(PartitionState partition)
    {
        _idle.Remove(partition);
        partition.IsIdle = false;
        _idleCount--;
    }

    /// <summary>
    /// Gets or sets the hash that spreads keys over the overflow partitions: the process's randomized string hash, so that
    /// no client can choose which neighbours it shares a partition with. Tests that compare the engine with a model set
    /// a fixed one, so that a run depends on its seed alone.
    /// </summary>
    internal static Func<string, int> OverflowHash { get; set; } = static key => StringComparer.Ordinal.GetHashCode(key);

    private static int OverflowIndex(string key) => (int)((uint)OverflowHash(key) % OverflowPartitions);

    /// <summary>Gets the partitions in turn order from the one served next (for tests that compare turns with a model).</summary>
    internal IEnumerable<PartitionState> RingFromCursor()
    {
        for (PartitionState? p = _cursor; p is not null; p = p.NextActive == _cursor ? null : p.NextActive)
        {
            yield return p;
        }
    }

    /// <summary>Gets the turns an overflow partition owes (for tests that compare turns with a model).</summary>
    internal int OverflowDebt(int index) => _overflow?[index]?.Debt ?? 0;

    private PartitionState Overflow(string key)
    {
        _overflow ??= new PartitionState?[OverflowPartitions];
        int index = OverflowIndex(key);
        return _overflow[index] ??= new PartitionState($"(overflow {index})", isOverflow: true);
    }
}
