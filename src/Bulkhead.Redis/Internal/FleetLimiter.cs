using System.Collections.Concurrent;
using System.Threading.RateLimiting;

namespace Bulkhead.Redis.Internal;

/// <summary>
/// The admission check of one workload class with fleet-wide limits: a permit of its fleet rate (the class's bucket, or
/// the partition's), then a seat of its fleet cap and of its partition's. Each comes from this replica's stock when it
/// holds one, from Redis otherwise; while Redis is unreachable, from this replica's local share, or not at all.
/// </summary>
internal sealed class FleetLimiter : PartitionedRateLimiter<string>, IWorkloadFleetLimiter
{
    private readonly RedisFleetStore _store;
    private readonly string _keyBase;
    private readonly WorkloadRateLimitOptions? _rate;
    private readonly int _burst;
    private readonly int? _classCap;
    private readonly int? _partitionCap;
    private readonly ConcurrentDictionary<string, PermitStock> _permits = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, SeatStock> _partitionSeats = new(StringComparer.Ordinal);
    private readonly SeatStock? _classSeats;
    private readonly ConcurrentDictionary<string, LocalBucket> _localPartitions = new(StringComparer.Ordinal);
    private readonly LocalBucket? _localClass;
    private readonly string _holder;
    private volatile bool _retired;

    public FleetLimiter(RedisFleetStore store, string workloadClass, WorkloadClassOptions options)
    {
        _store = store;
        _keyBase = $"{store.KeyPrefix}:{workloadClass.ToLowerInvariant()}";
        _rate = options.Fleet?.RateLimit;
        _burst = _rate is null ? 0 : _rate.Burst ?? Math.Max(1, (int)Math.Ceiling(_rate.PermitsPerSecond));
        _classCap = options.Fleet?.MaxConcurrency;
        _partitionCap = options.Fleet?.MaxConcurrencyPerPartition;
        _holder = store.Register(this);
        _classSeats = _classCap is { } cap ? new SeatStock(store, SeatKey(partition: null), _holder, cap, LocalShareOf(cap)) : null;
        _localClass = _rate is { PerPartition: false } ? NewLocalBucket() : null;
    }

    public WorkloadFleetState State => _store.State;

    /// <summary>Whether another class configuration asks for exactly the fleet-wide limits this limiter enforces.</summary>
    public bool SameAs(WorkloadClassOptions options)
    {
        WorkloadRateLimitOptions? rate = options.Fleet?.RateLimit;
        return options.Fleet?.MaxConcurrency == _classCap && options.Fleet?.MaxConcurrencyPerPartition == _partitionCap
            && (rate is null) == (_rate is null)
            && (rate is null || (rate.PermitsPerSecond.Equals(_rate!.PermitsPerSecond) && rate.Burst == _rate.Burst && rate.PerPartition == _rate.PerPartition));
    }

    public override RateLimiterStatistics? GetStatistics(string resource) => null;

    protected override RateLimitLease AttemptAcquireCore(string resource, int permitCount)
    {
        CheckCount(permitCount);

        // Without waiting: only what this replica holds (more is asked for in the background when the stock runs out).
        return State == WorkloadFleetState.Coordinated ? TakeHeld(resource, requestMore: true) : AcquireLocally(resource);
    }

    /// <summary>A permit and seats this replica holds from Redis, or a refusal; optionally asks for more in the background.</summary>
    private FleetLease TakeHeld(string resource, bool requestMore)
    {
        PermitStock? permits = Permits(resource);
        if (permits is not null && !permits.TryTake())
        {
            return FleetLease.Refused(permits.RetryAfter);
        }

        SeatStock? partitionSeats = PartitionSeats(resource);
        if (_classSeats is not null && !(requestMore ? _classSeats.TryTakeOrRequest() : _classSeats.TryTake()))
        {
            permits?.Return();
            return FleetLease.Refused(_classSeats.RetryAfter);
        }

        if (partitionSeats is not null && !(requestMore ? partitionSeats.TryTakeOrRequest() : partitionSeats.TryTake()))
        {
            _classSeats?.Release();
            permits?.Return();
            return FleetLease.Refused(partitionSeats.RetryAfter);
        }

        return FleetLease.Granted(_classSeats, partitionSeats);
    }

    protected override ValueTask<RateLimitLease> AcquireAsyncCore(string resource, int permitCount, CancellationToken cancellationToken)
    {
        CheckCount(permitCount);
        if (State != WorkloadFleetState.Coordinated)
        {
            return new ValueTask<RateLimitLease>(AcquireLocally(resource));
        }

        FleetLease held = TakeHeld(resource, requestMore: false);
        return held.IsAcquired
            ? new ValueTask<RateLimitLease>(held)
            : AcquireFromRedisAsync(resource, Permits(resource), PartitionSeats(resource), cancellationToken);
    }

    private async ValueTask<RateLimitLease> AcquireFromRedisAsync(string resource, PermitStock? permits, SeatStock? partitionSeats, CancellationToken cancellationToken)
    {
        if (permits is not null)
        {
            (FleetAnswer answer, TimeSpan retryAfter) = await permits.TakeAsync(cancellationToken).ConfigureAwait(false);
            if (answer != FleetAnswer.Granted)
            {
                return answer == FleetAnswer.Refused ? FleetLease.Refused(retryAfter) : AcquireLocally(resource);
            }
        }

        FleetAnswer classSeat = _classSeats is null ? FleetAnswer.Granted : await _classSeats.TakeAsync(cancellationToken).ConfigureAwait(false);
        FleetAnswer partitionSeat = classSeat != FleetAnswer.Granted || partitionSeats is null
            ? classSeat
            : await partitionSeats.TakeAsync(cancellationToken).ConfigureAwait(false);
        if (partitionSeat == FleetAnswer.Granted)
        {
            return FleetLease.Granted(_classSeats, partitionSeats);
        }

        if (classSeat == FleetAnswer.Granted)
        {
            _classSeats?.Release();
        }

        permits?.Return();
        SeatStock refusing = classSeat == FleetAnswer.Granted ? partitionSeats! : _classSeats!;
        return partitionSeat == FleetAnswer.Refused ? FleetLease.Refused(refusing.RetryAfter) : AcquireLocally(resource);
    }

    /// <summary>
    /// While Redis is unreachable: this replica's share of each limit, only what it holds from Redis (strict), or a
    /// refusal (fail closed).
    /// </summary>
    private FleetLease AcquireLocally(string resource)
    {
        switch (_store.Options.Fallback)
        {
            case RedisFleetFallback.FailClosed:
                return FleetLease.Refused(_store.Options.BreakDuration);
            case RedisFleetFallback.Strict:
                return TakeHeld(resource, requestMore: false);
        }

        LocalBucket? bucket = _rate is null ? null
            : _rate.PerPartition ? _localPartitions.GetOrAdd(resource, static (_, self) => self.NewLocalBucket(), this)
            : _localClass;
        TimeSpan retryAfter = TimeSpan.Zero;
        if (bucket is not null && !bucket.TryTakePermit(out retryAfter))
        {
            return FleetLease.Refused(retryAfter);
        }

        // The same stocks as when coordinated: the seats in use here count once, however they were granted.
        SeatStock? partitionSeats = PartitionSeats(resource);
        if (_classSeats is not null && !_classSeats.TryTakeLocal())
        {
            bucket?.ReturnPermit();
            return FleetLease.Refused(_store.Options.BatchInterval);
        }

        if (partitionSeats is not null && !partitionSeats.TryTakeLocal())
        {
            _classSeats?.Release();
            bucket?.ReturnPermit();
            return FleetLease.Refused(_store.Options.BatchInterval);
        }

        return FleetLease.Granted(_classSeats, partitionSeats);
    }

    /// <summary>A reload replaced this limiter: its work in flight ends under it, and then it gives everything back.</summary>
    public void Retire() => _retired = true;

    /// <summary>
    /// Renews seats, gives back what is unused, and forgets idle partitions' stocks; returns whether the limiter is
    /// retired and holds nothing any more (it may be forgotten).
    /// </summary>
    public async Task<bool> MaintainAsync()
    {
        if (_retired)
        {
            await ReleaseAllAsync().ConfigureAwait(false);
            return _permits.Values.All(p => p.IsIdle) && (_classSeats?.IsIdle ?? true) && _partitionSeats.Values.All(p => p.IsIdle);
        }

        foreach ((string key, PermitStock stock) in _permits)
        {
            await stock.GiveBackIdleAsync().ConfigureAwait(false);
            if (stock.IsIdle)
            {
                _permits.TryRemove(new KeyValuePair<string, PermitStock>(key, stock));
            }
        }

        if (_classSeats is not null)
        {
            await _classSeats.MaintainAsync().ConfigureAwait(false);
        }

        foreach ((string key, SeatStock stock) in _partitionSeats)
        {
            await stock.MaintainAsync().ConfigureAwait(false);
            if (stock.IsIdle)
            {
                _partitionSeats.TryRemove(new KeyValuePair<string, SeatStock>(key, stock));
            }
        }

        if (State == WorkloadFleetState.Coordinated)
        {
            // The next outage starts each partition's local bucket full, as the class's.
            _localPartitions.Clear();
        }

        return false;
    }

    /// <summary>Gives every seat and unused permit back (a clean stop).</summary>
    public async Task ReleaseAllAsync()
    {
        foreach (PermitStock stock in _permits.Values)
        {
            await stock.GiveBackIdleAsync(all: true).ConfigureAwait(false);
        }

        if (_classSeats is not null)
        {
            await _classSeats.MaintainAsync(releaseAll: true).ConfigureAwait(false);
        }

        foreach (SeatStock stock in _partitionSeats.Values)
        {
            await stock.MaintainAsync(releaseAll: true).ConfigureAwait(false);
        }
    }

    private static void CheckCount(int permitCount) =>
        ArgumentOutOfRangeException.ThrowIfNotEqual(permitCount, 1, nameof(permitCount));

    private PermitStock? Permits(string partition)
    {
        if (_rate is null)
        {
            return null;
        }

        string key = _rate.PerPartition ? partition : string.Empty;
        return _permits.GetOrAdd(key, static (k, self) => new PermitStock(
            self._store,
            self._rate!.PerPartition ? $"{self._keyBase}:rate:p:{k}" : $"{self._keyBase}:rate",
            self._rate.PermitsPerSecond,
            self._burst), this);
    }

    private SeatStock? PartitionSeats(string partition) =>
        _partitionCap is { } cap ? _partitionSeats.GetOrAdd(partition, static (p, state) => new SeatStock(state.Self._store, state.Self.SeatKey(p), state.Self._holder, state.Cap, state.Self.LocalShareOf(state.Cap)), (Self: this, Cap: cap)) : null;

    /// <summary>The semaphore's key, in braces so that its two Redis keys live in one cluster slot.</summary>
    private string SeatKey(string? partition) => partition is null ? $"{{{_keyBase}:seats}}" : $"{{{_keyBase}:seats:p:{partition}}}";

    /// <summary>A key's share of the fleet rate while Redis is unreachable: the rate and burst over the expected replicas.</summary>
    private LocalBucket NewLocalBucket()
    {
        int replicas = _store.Options.ExpectedReplicas;
        return new LocalBucket(_store.Time, _rate!.PermitsPerSecond / replicas, Math.Max(1, (int)Math.Ceiling((double)_burst / replicas)));
    }

    /// <summary>A cap's share while Redis is unreachable: the cap over the expected replicas, rounded up, at least one.</summary>
    private int LocalShareOf(int cap) => Math.Max(1, (int)Math.Ceiling((double)cap / _store.Options.ExpectedReplicas));
}
