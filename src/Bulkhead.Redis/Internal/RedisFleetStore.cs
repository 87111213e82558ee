using System.Diagnostics.Metrics;
using System.Globalization;
using Microsoft.Extensions.Logging;
using Polly;
using Polly.CircuitBreaker;
using StackExchange.Redis;

namespace Bulkhead.Redis.Internal;

/// <summary>
/// The one connection of a process to the fleet's Redis: runs the scripts behind a circuit breaker, says whether the
/// fleet's limits are decided there now, and keeps the replica's stocks (renewing its seats, giving back what it does
/// not use) on a timer.
/// </summary>
internal sealed partial class RedisFleetStore : IAsyncDisposable
{
    private const string ResultTag = "bulkhead.fleet.result";

    // Connecting goes on in the background: neither start-up nor a request waits for it longer than an operation may take.
    private readonly Task<IConnectionMultiplexer> _connection;
    private readonly bool _ownsConnection;
    private readonly ResiliencePipeline _pipeline;
    private readonly ILogger _logger;
    private readonly List<FleetLimiter> _limiters = [];
    private readonly Lock _limitersLock = new();
    private readonly CancellationTokenSource _stopping = new();
    private readonly Task _maintenance;
    private readonly CircuitBreakerManualControl _breaker = new();
    private readonly Lock _stateLock = new();
    private int _state;
    private int _failuresInARow;
    private int _notedSingleReplica;
    private readonly Counter<long>? _operations;
    private int _registered;

    public RedisFleetStore(RedisFleetOptions options, Task<IConnectionMultiplexer> connection, bool ownsConnection, TimeProvider time, ILogger logger, IMeterFactory? meters = null)
    {
        // On Bulkhead's meter (the factory hands out the one instance per name): one more instrument beside the engine's.
        _operations = meters?.Create(WorkloadIsolationTelemetry.MeterName).CreateCounter<long>(
            "bulkhead.fleet.operations", "{operation}", "Operations this process sent to the fleet store (Redis), by result: ok, or failed (an error or a timeout; the work fell back).");
        Options = options;
        Time = time;
        _connection = connection;
        _ownsConnection = ownsConnection;
        _logger = logger;
        ReplicaId = options.ReplicaId ?? string.Create(CultureInfo.InvariantCulture, $"{Environment.MachineName}:{Environment.ProcessId}:{Guid.NewGuid():N}");
        KeyPrefix = options.KeyPrefix;
        _pipeline = new ResiliencePipelineBuilder { TimeProvider = time }
            .AddCircuitBreaker(new CircuitBreakerStrategyOptions
            {
                FailureRatio = 0.5,
                MinimumThroughput = 3,
                SamplingDuration = TimeSpan.FromSeconds(2),
                BreakDuration = options.BreakDuration,
                ManualControl = _breaker,
                ShouldHandle = static args => ValueTask.FromResult(args.Outcome.Exception is not null and not OperationCanceledException),
                OnOpened = args =>
                {
                    Enter(
                        Options.Fallback switch
                        {
                            RedisFleetFallback.FailClosed => WorkloadFleetState.Closed,
                            RedisFleetFallback.Strict => WorkloadFleetState.Strict,
                            _ => WorkloadFleetState.LocalShare,
                        },
                        args.Outcome.Exception);
                    return ValueTask.CompletedTask;
                },
                OnClosed = _ =>
                {
                    Enter(WorkloadFleetState.Coordinated, exception: null);
                    return ValueTask.CompletedTask;
                },
            })
            .Build();
        _maintenance = MaintainAsync(_stopping.Token);
    }

    /// <summary>Failed operations in a row that open the breaker whatever the traffic.</summary>
    public const int FailuresInARowToBreak = 3;

    public RedisFleetOptions Options { get; }

    public TimeProvider Time { get; }

    /// <summary>Gets the name under which this replica holds seats.</summary>
    public string ReplicaId { get; }

    public string KeyPrefix { get; }

    /// <summary>Gets where the fleet's limits are decided now.</summary>
    public WorkloadFleetState State => (WorkloadFleetState)Volatile.Read(ref _state);


    /// <summary>
    /// Says once, at the first class with fleet-wide limits, when the local share would be the whole limit: with
    /// <see cref="RedisFleetOptions.ExpectedReplicas"/> left at 1, every replica enforces the whole fleet limit on its
    /// own while Redis is unreachable, and the fleet may run at replicas × the limit.
    /// </summary>
    public void NoteFleetLimits()
    {
        if (Options is { ExpectedReplicas: 1, Fallback: RedisFleetFallback.LocalShare } && Interlocked.Exchange(ref _notedSingleReplica, 1) == 0)
        {
            LogSingleReplica(_logger);
        }
    }

    /// <summary>Keeps a new limiter's stocks; returns the name its seats carry in Redis (this replica's, and the limiter's number).</summary>
    public string Register(FleetLimiter limiter)
    {
        lock (_limitersLock)
        {
            _limiters.Add(limiter);
            return string.Create(CultureInfo.InvariantCulture, $"{ReplicaId}/{++_registered}");
        }
    }

    /// <summary>Takes permits from a fleet bucket (or gives unused ones back, with a negative count); <see langword="null"/> when Redis did not answer.</summary>
    public async Task<(int Granted, TimeSpan RetryAfter)?> TakePermitsAsync(string key, double permitsPerSecond, int burst, int count)
    {
        RedisResult? result = await EvaluateAsync(
            FleetScripts.Permits,
            [key],
            [permitsPerSecond, burst, count, ReplicaId, (long)(Options.BatchInterval.TotalMilliseconds * 3)]).ConfigureAwait(false);
        if (result is null)
        {
            return null;
        }

        var values = (RedisResult[])result!;
        return ((int)values[0], TimeSpan.FromMilliseconds((long)values[1]));
    }

    /// <summary>
    /// Moves this replica's seats of a fleet semaphore toward a target and renews its lease; <see langword="null"/> when
    /// Redis did not answer.
    /// </summary>
    /// <param name="key">The semaphore.</param>
    /// <param name="holder">Who holds the seats in Redis: this replica's limiter (a limiter replaced by a reload holds its own until its work ends).</param>
    /// <param name="target">The seats the holder wants to hold.</param>
    /// <param name="cap">The semaphore's cap.</param>
    /// <param name="epoch">The semaphore's epoch the holder last saw; empty when it saw none.</param>
    /// <param name="inUse">The seats in use at the holder: what it may claim while Redis recovers from lost state.</param>
    public async Task<SeatAnswer?> SetSeatsAsync(string key, string holder, int target, int cap, string epoch, int inUse)
    {
        RedisResult? result = await EvaluateAsync(
            FleetScripts.Seats,
            [key, key + ":expiry", key + ":wanting", key + ":epoch"],
            [holder, target, cap, (long)Options.SeatLeaseTime.TotalMilliseconds, (long)(Options.BatchInterval.TotalMilliseconds * 3), epoch, inUse,
                (long)RecoveryWindow.TotalMilliseconds, (long)EpochLifetime.TotalMilliseconds]).ConfigureAwait(false);
        if (result is null)
        {
            return null;
        }

        var values = (RedisResult[])result!;
        return new SeatAnswer((int)values[0], (int)values[1], (int)values[2], (string)values[3]!);
    }

    /// <summary>
    /// How long, after Redis lost a semaphore's state, seats go only to holders claiming seats they run. Strict: a
    /// lease, after which no replica uses a seat granted before the loss, however late its renewal. Otherwise long
    /// enough for every live holder to renew (it does every batch interval, on a tick of half that), at most a lease.
    /// </summary>
    public TimeSpan RecoveryWindow =>
        Options.Fallback == RedisFleetFallback.Strict || Options.SeatLeaseTime < Options.BatchInterval * 2 ? Options.SeatLeaseTime : Options.BatchInterval * 2;

    /// <summary>How long a semaphore's epoch outlives its last use: a replica that held nothing for longer sees a new one as lost state, once.</summary>
    private static TimeSpan EpochLifetime => TimeSpan.FromDays(1);

    private async Task<RedisResult?> EvaluateAsync(string script, RedisKey[] keys, RedisValue[] values)
    {
        try
        {
            RedisResult answer = await _pipeline.ExecuteAsync(
                static async (state, cancellationToken) =>
                {
                    long started = state.Store.Time.GetTimestamp();
                    IConnectionMultiplexer connection = await state.Store._connection
                        .WaitAsync(state.Store.Options.OperationTimeout, state.Store.Time, cancellationToken).ConfigureAwait(false);
                    TimeSpan left = state.Store.Options.OperationTimeout - state.Store.Time.GetElapsedTime(started);
                    return await connection.GetDatabase().ScriptEvaluateAsync(state.Script, state.Keys, state.Values)
                        .WaitAsync(left > TimeSpan.Zero ? left : TimeSpan.Zero, state.Store.Time, cancellationToken).ConfigureAwait(false);
                },
                (Store: this, Script: script, Keys: keys, Values: values),
                CancellationToken.None).ConfigureAwait(false);
            _operations?.Add(1, new KeyValuePair<string, object?>(ResultTag, "ok"));
            Volatile.Write(ref _failuresInARow, 0);
            return answer;
        }
        catch (Exception exception)
        {
            bool skipped = exception is BrokenCircuitException;
            _operations?.Add(1, new KeyValuePair<string, object?>(ResultTag, skipped ? "skipped" : "failed"));

            // Counted by the breaker (unless it is open already); the caller falls back for this unit of work.
            LogOperationFailed(_logger, exception);
            if (!skipped && Interlocked.Increment(ref _failuresInARow) >= FailuresInARowToBreak && State == WorkloadFleetState.Coordinated)
            {
                // At low traffic the breaker's window never holds enough operations to open: failures in a row
                // open it too, so that the state the snapshot shows is the one work is decided under.
                await _breaker.IsolateAsync().ConfigureAwait(false);
            }

            return null;
        }
    }

    /// <summary>
    /// Asks Redis directly, outside the breaker, whether it answers: while the breaker is open, the maintenance timer
    /// does so every tick and closes the breaker at the first answer, so that coordination resumes within one tick of
    /// Redis answering rather than at the end of a break (a half-open probe that failed just before the reconnect
    /// would otherwise keep the replica on its local share for a whole BreakDuration).
    /// </summary>
    private async Task<bool> AnswersAsync(CancellationToken cancellationToken)
    {
        try
        {
            long started = Time.GetTimestamp();
            IConnectionMultiplexer connection = await _connection.WaitAsync(Options.OperationTimeout, Time, cancellationToken).ConfigureAwait(false);
            TimeSpan left = Options.OperationTimeout - Time.GetElapsedTime(started);
            await connection.GetDatabase().PingAsync().WaitAsync(left > TimeSpan.Zero ? left : TimeSpan.Zero, Time, cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (Exception exception) when (exception is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            return false;
        }
    }

    /// <summary>Moves to a state, said in the log before it shows anywhere: whoever sees the state can find why.</summary>
    private void Enter(WorkloadFleetState state, Exception? exception)
    {
        lock (_stateLock)
        {
            if (State == state)
            {
                return;
            }

            if (state == WorkloadFleetState.Coordinated)
            {
                LogRestored(_logger);
            }
            else
            {
                string meaning = state switch
                {
                    WorkloadFleetState.LocalShare => string.Create(CultureInfo.InvariantCulture, $"each limit divided by {Options.ExpectedReplicas} replicas"),
                    WorkloadFleetState.Strict => "only the seats and permits this replica holds, for half their lease",
                    _ => "work under fleet-wide limits is rejected",
                };
                LogUnavailable(_logger, state, meaning, exception?.Message ?? "too many failures");
            }

            Volatile.Write(ref _state, (int)state);
        }
    }

    /// <summary>On a timer: asks Redis again after a break, renews seats, gives back what the replica does not use.</summary>
    private async Task MaintainAsync(CancellationToken cancellationToken)
    {
        await Task.Yield();
        TimeSpan period = Options.BatchInterval / 2;
        using var timer = new PeriodicTimer(period < TimeSpan.FromMilliseconds(10) ? TimeSpan.FromMilliseconds(10) : period, Time);
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false))
            {
                if (State != WorkloadFleetState.Coordinated && await AnswersAsync(cancellationToken).ConfigureAwait(false))
                {
                    Volatile.Write(ref _failuresInARow, 0);
                    await _breaker.CloseAsync(CancellationToken.None).ConfigureAwait(false);
                }

                FleetLimiter[] limiters;
                lock (_limitersLock)
                {
                    limiters = [.. _limiters];
                }

                foreach (FleetLimiter limiter in limiters)
                {
                    // A limiter replaced by a reload is forgotten once its work has ended and it gave everything back.
                    if (await limiter.MaintainAsync().ConfigureAwait(false))
                    {
                        lock (_limitersLock)
                        {
                            _limiters.Remove(limiter);
                        }
                    }
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
    }

    /// <summary>Gives every seat back (a replica that stops cleanly does not make the fleet wait for its leases to end) and closes.</summary>
    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync().ConfigureAwait(false);
        await _maintenance.ConfigureAwait(false);
        FleetLimiter[] limiters;
        lock (_limitersLock)
        {
            limiters = [.. _limiters];
        }

        foreach (FleetLimiter limiter in limiters)
        {
            await limiter.ReleaseAllAsync().ConfigureAwait(false);
        }

        if (_ownsConnection && await ConnectedAsync().ConfigureAwait(false) is { } connection)
        {
            await connection.CloseAsync().ConfigureAwait(false);
            connection.Dispose();
        }

        _stopping.Dispose();
    }

    /// <summary>Stops the replica as a crash would: no seat given back, no lease renewed (tests of lease expiry).</summary>
    internal async Task AbandonAsync()
    {
        await _stopping.CancelAsync().ConfigureAwait(false);
        await _maintenance.ConfigureAwait(false);
        if (_ownsConnection && await ConnectedAsync().ConfigureAwait(false) is { } connection)
        {
            connection.Dispose();
        }
    }

    /// <summary>The connection, once made; <see langword="null"/> when it could not be made.</summary>
    private async Task<IConnectionMultiplexer?> ConnectedAsync()
    {
        try
        {
            return await _connection.ConfigureAwait(false);
        }
        catch (RedisException)
        {
            return null;
        }
    }

    internal void LogSeatsLost(string key, int held, int kept) => LogLostSeats(_logger, key, held, kept);

    internal void LogStateLost(string key, int inUse, int kept) => LogLostState(_logger, key, inUse, kept, RecoveryWindow);

    [LoggerMessage(EventId = 70, Level = LogLevel.Warning, Message = "Redis is unreachable: fleet-wide limits are now {State} until it answers again ({Meaning}). {Reason}")]
    private static partial void LogUnavailable(ILogger logger, WorkloadFleetState state, string meaning, string reason);

    [LoggerMessage(EventId = 71, Level = LogLevel.Information, Message = "Redis answers again: fleet-wide limits hold across the fleet.")]
    private static partial void LogRestored(ILogger logger);

    [LoggerMessage(EventId = 72, Level = LogLevel.Warning, Message = "This replica's lease on fleet seats '{Key}' ended before it was renewed (a pause longer than SeatLeaseTime?): it held {Held} seats and now holds {Kept}.")]
    private static partial void LogLostSeats(ILogger logger, string key, int held, int kept);

    [LoggerMessage(EventId = 75, Level = LogLevel.Warning, Message = "Redis lost the state of fleet seats '{Key}' (a restart without persistence, FLUSHALL, a failover or an eviction): this replica runs {InUse} seats and re-registered {Kept}; for {Window} new seats go only to replicas re-registering the seats they run.")]
    private static partial void LogLostState(ILogger logger, string key, int inUse, int kept, TimeSpan window);

    [LoggerMessage(EventId = 74, Level = LogLevel.Warning, Message = "Fleet-wide limits with RedisFleet:ExpectedReplicas 1 and the LocalShare fallback: while Redis is unreachable every replica enforces each whole limit on its own, so a fleet of N replicas may run at N times it. Set ExpectedReplicas to the replicas the service usually runs (or Fallback to FailClosed).")]
    private static partial void LogSingleReplica(ILogger logger);

    [LoggerMessage(EventId = 73, Level = LogLevel.Debug, Message = "A Redis operation failed; this unit of work falls back.")]
    private static partial void LogOperationFailed(ILogger logger, Exception exception);
}
