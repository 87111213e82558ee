namespace Bulkhead.Redis.Internal;

/// <summary>
/// This replica's seats of one fleet-wide semaphore. Seats are leases in Redis, renewed while held: a replica keeps the
/// seats it uses (work that follows work needs no round trip), asks for more only when all are busy, and gives back the
/// ones idle for a batch interval. Locally it never uses more seats than Redis counts for it.
/// </summary>
internal sealed class SeatStock(RedisFleetStore store, string redisKey, int cap) : ISeatHolder
{
    private readonly Lock _lock = new();
    private int _owned;
    private int _inUse;
    private int _waiting;
    private long _lastRelease = store.Time.GetTimestamp();
    private long _lastRenewal = store.Time.GetTimestamp();
    private Task<bool>? _sync;

    public bool IsIdle
    {
        get
        {
            lock (_lock)
            {
                return _owned == 0 && _inUse == 0 && _waiting == 0 && _sync is null;
            }
        }
    }

    /// <summary>Gets the seats of this semaphore this replica holds in Redis.</summary>
    public int Owned
    {
        get
        {
            lock (_lock)
            {
                return _owned;
            }
        }
    }

    public bool TryTake()
    {
        lock (_lock)
        {
            if (_inUse < _owned)
            {
                _inUse++;
                return true;
            }

            return false;
        }
    }

    /// <summary>Takes a seat, from Redis when every seat held here is busy.</summary>
    public async ValueTask<FleetAnswer> TakeAsync(CancellationToken cancellationToken)
    {
        Task<bool> sync;
        lock (_lock)
        {
            if (_inUse < _owned)
            {
                _inUse++;
                return FleetAnswer.Granted;
            }

            _waiting++;
            sync = _sync ??= GrowAsync();
        }

        bool answered;
        try
        {
            answered = await sync.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            lock (_lock)
            {
                _waiting--;
            }
        }

        lock (_lock)
        {
            if (_inUse < _owned)
            {
                _inUse++;
                return FleetAnswer.Granted;
            }
        }

        return answered ? FleetAnswer.Refused : FleetAnswer.Unavailable;
    }

    public void Release()
    {
        lock (_lock)
        {
            _inUse--;
            _lastRelease = store.Time.GetTimestamp();
        }
    }

    /// <summary>Gives back seats idle for a batch interval; renews the lease of the others a third of the lease time after the last renewal.</summary>
    public Task MaintainAsync(bool releaseAll = false)
    {
        lock (_lock)
        {
            if (_sync is not null || (_owned == 0 && !releaseAll))
            {
                return Task.CompletedTask;
            }

            int target = _owned;
            if (releaseAll || (_owned > _inUse && _waiting == 0 && store.Time.GetElapsedTime(_lastRelease) >= store.Options.BatchInterval))
            {
                // Given back here before Redis hears of it: locally, never more than Redis counts.
                target = releaseAll ? 0 : _inUse;
                _owned = target;
            }
            else if (store.Time.GetElapsedTime(_lastRenewal) < store.Options.SeatLeaseTime / 3)
            {
                return Task.CompletedTask;
            }

            return _sync = SyncAsync(target);
        }
    }

    private async Task<bool> GrowAsync()
    {
        // Never runs on under the caller's lock: the answer may come back synchronously (a breaker that is open).
        await Task.Yield();
        int target;
        lock (_lock)
        {
            target = Math.Min(cap, Math.Max(_owned, _inUse + Math.Max(1, _waiting)));
        }

        return await SyncAsync(target).ConfigureAwait(false);
    }

    private async Task<bool> SyncAsync(int target)
    {
        await Task.Yield();
        int? held = await store.SetSeatsAsync(redisKey, target, cap).ConfigureAwait(false);
        lock (_lock)
        {
            _sync = null;
            if (held is not { } seats)
            {
                return false;
            }

            _lastRenewal = store.Time.GetTimestamp();
            if (seats < _owned)
            {
                store.LogSeatsLost(redisKey, _owned, seats);
            }

            _owned = seats;
            return true;
        }
    }
}
