namespace Bulkhead.Redis.Internal;

/// <summary>
/// This replica's seats of one fleet-wide semaphore. Seats are leases in Redis: a replica keeps the seats it uses (work
/// that follows work needs no round trip), asks for more only when all are busy, and every batch interval gives back
/// the ones it no longer uses and renews the rest. When other replicas were refused seats lately, it keeps no more than
/// its fair share (the cap over the replicas that want seats), so that seats move to where the demand is. Coordinated,
/// it never admits beyond the seats Redis counts for it. While Redis is unreachable it admits up to its local share of
/// the cap; the seats in use count the same however they were granted, so that leased seats count against the local
/// share, and seats taken under the local share are claimed in Redis before anything more is admitted once it answers.
/// </summary>
internal sealed class SeatStock(RedisFleetStore store, string redisKey, string holder, int cap, int localShare)
{
    private readonly Lock _lock = new();
    private readonly int _cap = cap;
    private int _owned;
    private int _inUse;
    private int _waiting;
    private int _share = int.MaxValue;
    private int _peakInUse;
    private long _lastSync = store.Time.GetTimestamp();
    private long _refusedUntil;
    private string _epoch = string.Empty;
    private long _useUntil;
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

    /// <summary>
    /// Gets when a caller refused a seat here may try again: once this replica asks Redis again after a refusal, else a
    /// batch interval (seats come back as work ends, and as replicas give back what they do not use).
    /// </summary>
    public TimeSpan RetryAfter
    {
        get
        {
            lock (_lock)
            {
                long now = store.Time.GetTimestamp();
                return now < _refusedUntil ? store.Time.GetElapsedTime(now, _refusedUntil) : store.Options.BatchInterval;
            }
        }
    }

    /// <summary>Gets the seats held here that work is using now.</summary>
    public int InUse
    {
        get
        {
            lock (_lock)
            {
                return _inUse;
            }
        }
    }

    /// <summary>
    /// Takes a seat held here in the first half of its lease: by this replica's clock, counted from when it sent the
    /// renewal, before Redis started the lease. Work started on a seat so has at least half a lease to end before Redis
    /// may give the seat to another replica, however long this one stays cut off.
    /// </summary>
    public bool TryTake()
    {
        lock (_lock)
        {
            if (_inUse < _owned && _inUse < _share && store.Time.GetTimestamp() < _useUntil)
            {
                _inUse++;
                _peakInUse = Math.Max(_peakInUse, _inUse);
                return true;
            }

            return false;
        }
    }

    /// <summary>While Redis is unreachable: takes a seat of the local share, counting every seat in use here.</summary>
    public bool TryTakeLocal()
    {
        lock (_lock)
        {
            if (_inUse < localShare)
            {
                _inUse++;
                _peakInUse = Math.Max(_peakInUse, _inUse);
                return true;
            }

            return false;
        }
    }

    /// <summary>Takes a seat held here without waiting; when none is free, asks Redis for one in the background, for the next caller.</summary>
    public bool TryTakeOrRequest()
    {
        lock (_lock)
        {
            if (TryTake())
            {
                return true;
            }

            if (_inUse < _share && store.Time.GetTimestamp() >= _refusedUntil)
            {
                _sync ??= GrowAsync();
            }

            return false;
        }
    }

    /// <summary>Takes a seat, from Redis when every seat held here is busy (not again until a batch interval after a refusal).</summary>
    public async ValueTask<FleetAnswer> TakeAsync(CancellationToken cancellationToken)
    {
        Task<bool> sync;
        lock (_lock)
        {
            if (TryTake())
            {
                return FleetAnswer.Granted;
            }

            if (_inUse >= _share || store.Time.GetTimestamp() < _refusedUntil)
            {
                return FleetAnswer.Refused;
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

        if (TryTake())
        {
            return FleetAnswer.Granted;
        }

        return answered ? FleetAnswer.Refused : FleetAnswer.Unavailable;
    }

    public void Release()
    {
        lock (_lock)
        {
            _inUse--;
        }
    }

    /// <summary>
    /// Every batch interval while it holds seats: gives back those it did not use in that interval (and those beyond its
    /// fair share), renews the lease of the rest, and claims the seats in use beyond those Redis counts (taken under the
    /// local share). With <paramref name="releaseAll"/>, gives back every seat not in use.
    /// </summary>
    public Task MaintainAsync(bool releaseAll = false)
    {
        lock (_lock)
        {
            if (_sync is not null || (_owned == 0 && _inUse == 0) || (releaseAll && _owned <= _inUse)
                || (!releaseAll && store.Time.GetElapsedTime(_lastSync) < store.Options.BatchInterval))
            {
                return Task.CompletedTask;
            }

            // Seats in use are kept until their work ends, even by a limiter that lets everything go; those given back
            // are given back here before Redis hears of it: locally, never more than Redis counts.
            int target = releaseAll ? _inUse : Math.Max(_inUse, Math.Min(_owned, Math.Min(_share, _peakInUse)));
            _owned = Math.Min(_owned, target);
            _peakInUse = _inUse;
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
            target = Math.Min(Math.Min(_cap, _share), Math.Max(_owned, _inUse + Math.Max(1, _waiting)));
        }

        return await SyncAsync(target, growing: true).ConfigureAwait(false);
    }

    private async Task<bool> SyncAsync(int target, bool growing = false)
    {
        await Task.Yield();
        string epoch;
        int inUse;
        lock (_lock)
        {
            epoch = _epoch;
            inUse = _inUse;
        }

        long sent = store.Time.GetTimestamp();

        SeatAnswer? answer = await store.SetSeatsAsync(redisKey, holder, target, _cap, epoch, inUse).ConfigureAwait(false);
        lock (_lock)
        {
            _sync = null;
            if (answer is not { } seats)
            {
                return false;
            }

            _lastSync = store.Time.GetTimestamp();
            if (epoch.Length > 0 && seats.Epoch != epoch)
            {
                store.LogStateLost(redisKey, _inUse, seats.Held);
            }
            else if (seats.Held < _owned)
            {
                store.LogSeatsLost(redisKey, _owned, seats.Held);
            }

            _epoch = seats.Epoch;
            _owned = seats.Held;
            _useUntil = sent + (long)(store.Options.SeatLeaseTime.TotalSeconds / 2 * store.Time.TimestampFrequency);

            // Others refused lately: keep no more than a fair share, so that seats move to them as work here ends.
            _share = seats.Wanting > 0 ? Math.Max(1, (int)Math.Ceiling((double)_cap / (seats.Holders + seats.Wanting))) : int.MaxValue;
            if (growing && seats.Held < target)
            {
                _refusedUntil = store.Time.GetTimestamp() + (long)(store.Options.BatchInterval.TotalSeconds * store.Time.TimestampFrequency);
            }

            return true;
        }
    }
}
