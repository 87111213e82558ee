namespace Bulkhead.Redis.Internal;

/// <summary>
/// This replica's permits from one fleet-wide token bucket: taken from Redis in batches sized to the demand seen here
/// (at most <see cref="RedisFleetOptions.MaxBatchSize"/>, and at most this replica's share of the burst, held at once;
/// the next batch asked for before the stock runs out), served locally, and given back when unused.
/// </summary>
internal sealed class PermitStock(RedisFleetStore store, string redisKey, double permitsPerSecond, int burst)
{
    private readonly Lock _lock = new();
    private int _available;
    private int _lastBatch;
    private int _takenSinceRefill; // asked since the last refill: served from the stock or refused here
    private long _refilledAt = store.Time.GetTimestamp();
    private long _lastTake = store.Time.GetTimestamp();
    private TimeSpan _retryAfter;
    private long _refusedUntil;
    private Task<bool>? _refill;

    /// <summary>
    /// Gets a value indicating whether the stock holds nothing, asks nothing and knows nothing worth keeping (it may be
    /// forgotten): a stock forgotten while Redis said when to ask again would ask at once, every maintenance tick.
    /// </summary>
    public bool IsIdle
    {
        get
        {
            lock (_lock)
            {
                return _available == 0 && _refill is null && store.Time.GetTimestamp() >= _refusedUntil;
            }
        }
    }

    /// <summary>
    /// Gets when a caller refused a permit here may try again: once this replica asks Redis again after coming up short,
    /// else when the next permit drips in at the fleet rate.
    /// </summary>
    public TimeSpan RetryAfter
    {
        get
        {
            lock (_lock)
            {
                long now = store.Time.GetTimestamp();
                return now < _refusedUntil ? store.Time.GetElapsedTime(now, _refusedUntil) : TimeSpan.FromSeconds(1 / permitsPerSecond);
            }
        }
    }

    /// <summary>Takes a permit held here, without waiting; asks for the next batch when the stock runs low.</summary>
    public bool TryTake()
    {
        lock (_lock)
        {
            if (_available == 0)
            {
                // Demand is what is asked, served or not: at the limit the next batch is asked for whole.
                _takenSinceRefill++;
                if (store.Time.GetTimestamp() >= _refusedUntil)
                {
                    _refill ??= RefillAsync();
                }

                return false;
            }

            _available--;
            _takenSinceRefill++;
            _lastTake = store.Time.GetTimestamp();
            if (_available <= _lastBatch / 4 && _lastTake >= _refusedUntil)
            {
                _refill ??= RefillAsync();
            }

            return true;
        }
    }

    /// <summary>Takes a permit, from Redis when none is held: granted, refused (with when to retry), or no answer.</summary>
    public async ValueTask<(FleetAnswer Answer, TimeSpan RetryAfter)> TakeAsync(CancellationToken cancellationToken)
    {
        Task<bool> refill;
        lock (_lock)
        {
            if (_available == 0 && store.Time.GetTimestamp() is var now && now < _refusedUntil)
            {
                _takenSinceRefill++;
                // Redis said when the next permit comes: until then, refused here without asking again.
                return (FleetAnswer.Refused, store.Time.GetElapsedTime(now, _refusedUntil));
            }

            if (TryTake())
            {
                return (FleetAnswer.Granted, TimeSpan.Zero);
            }

            refill = _refill!;
        }

        if (!await refill.WaitAsync(cancellationToken).ConfigureAwait(false))
        {
            return (FleetAnswer.Unavailable, TimeSpan.Zero);
        }

        lock (_lock)
        {
            if (_available > 0)
            {
                _available--;
                _takenSinceRefill++;
                _lastTake = store.Time.GetTimestamp();
                return (FleetAnswer.Granted, TimeSpan.Zero);
            }

            return (FleetAnswer.Refused, _retryAfter);
        }
    }

    /// <summary>Puts back a permit taken for work that was then refused a seat.</summary>
    public void Return()
    {
        lock (_lock)
        {
            _available++;
        }
    }

    /// <summary>Gives back permits held unused for two batch intervals (demand fell, or moved to other replicas).</summary>
    public Task GiveBackIdleAsync(bool all = false)
    {
        int unused;
        lock (_lock)
        {
            if (_available == 0 || _refill is not null
                || (!all && store.Time.GetElapsedTime(_lastTake) < store.Options.BatchInterval * 2))
            {
                return Task.CompletedTask;
            }

            unused = _available;
            _available = 0;
            _lastBatch = 0;
        }

        return store.TakePermitsAsync(redisKey, permitsPerSecond, burst, -unused);
    }

    /// <summary>Asks Redis for a batch: the demand of the last batch over one batch interval, within what may be held.</summary>
    private async Task<bool> RefillAsync()
    {
        int want;
        lock (_lock)
        {
            double seconds = Math.Max(store.Time.GetElapsedTime(_refilledAt).TotalSeconds, 0.001);
            double demand = _takenSinceRefill / seconds * store.Options.BatchInterval.TotalSeconds;
            // Never more held here than this replica's share of the burst: a replica that took the whole bucket
            // would leave the others refused while the fleet is below its rate.
            int most = Math.Min(store.Options.MaxBatchSize, Math.Max(1, burst / store.Options.ExpectedReplicas));
            want = (int)Math.Clamp(Math.Ceiling(demand), 1, Math.Max(1, most - _available));
        }

        // Never runs on under the caller's lock: the answer may come back synchronously (a breaker that is open).
        await Task.Yield();
        (int Granted, TimeSpan RetryAfter)? answer = await store.TakePermitsAsync(redisKey, permitsPerSecond, burst, want).ConfigureAwait(false);
        lock (_lock)
        {
            _refill = null;
            if (answer is not { } taken)
            {
                return false;
            }

            _available += taken.Granted;
            _lastBatch = taken.Granted;
            _retryAfter = taken.RetryAfter;
            // Short of what it asked (the bucket is at its limit): refusals are answered here, and the next batch asked
            // for, once Redis said the rest could come. Asking as permits drip in would cost a round trip for each.
            _refusedUntil = taken.RetryAfter > TimeSpan.Zero ? store.Time.GetTimestamp() + (long)(taken.RetryAfter.TotalSeconds * store.Time.TimestampFrequency) : 0;
            _takenSinceRefill = 0;
            _refilledAt = store.Time.GetTimestamp();
            return true;
        }
    }
}
