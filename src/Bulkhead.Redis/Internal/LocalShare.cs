namespace Bulkhead.Redis.Internal;

/// <summary>
/// One key's share of a fleet-wide limit, enforced by this replica alone while Redis is unreachable: the rate and the
/// seats divided by the expected number of replicas (rounded up, at least one).
/// </summary>
internal sealed class LocalShare(TimeProvider time, double permitsPerSecond, int burst, int seats) : ISeatHolder
{
    private readonly Lock _lock = new();
    private double _tokens = burst;
    private long _updated = time.GetTimestamp();
    private int _inUse;

    public bool IsIdle
    {
        get
        {
            lock (_lock)
            {
                return _inUse == 0;
            }
        }
    }

    /// <summary>Takes a permit of the local rate: granted, or how long until one.</summary>
    public bool TryTakePermit(out TimeSpan retryAfter)
    {
        lock (_lock)
        {
            long now = time.GetTimestamp();
            _tokens = Math.Min(burst, _tokens + (time.GetElapsedTime(_updated, now).TotalSeconds * permitsPerSecond));
            _updated = now;
            if (_tokens >= 1)
            {
                _tokens--;
                retryAfter = TimeSpan.Zero;
                return true;
            }

            retryAfter = TimeSpan.FromSeconds((1 - _tokens) / permitsPerSecond);
            return false;
        }
    }

    public void ReturnPermit()
    {
        lock (_lock)
        {
            _tokens = Math.Min(burst, _tokens + 1);
        }
    }

    /// <summary>
    /// Takes a seat of the share. <paramref name="heldElsewhere"/> are this replica's seats of the same limit still in
    /// use under leases taken from Redis before it became unreachable: they count against the share, or the replica
    /// would run its leased seats and a whole share besides.
    /// </summary>
    public bool TryTakeSeat(int heldElsewhere = 0)
    {
        lock (_lock)
        {
            if (_inUse + heldElsewhere < seats)
            {
                _inUse++;
                return true;
            }

            return false;
        }
    }

    public void Release()
    {
        lock (_lock)
        {
            _inUse--;
        }
    }
}
