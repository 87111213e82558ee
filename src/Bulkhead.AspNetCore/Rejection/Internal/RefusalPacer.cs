using Microsoft.Extensions.Logging;

namespace Bulkhead.AspNetCore.Rejection.Internal;

/// <summary>
/// Holds refusals while they come faster than <see cref="WorkloadIsolationHttpOptions.SlowRefusalsAbove"/> a second:
/// each is answered after <see cref="Hold"/> (asynchronously: no thread waits), so that clients that retry the moment
/// they are refused make one call a second each instead of a storm that takes the processor from the work admitted.
/// It stops once refusals fall below a hundredth of the threshold in a second. At most <see cref="MostHeld"/> refusals
/// are held at once; more are answered at once, so that clients that do not wait for their answers cannot make it hold
/// an unbounded number of requests.
/// </summary>
internal sealed partial class RefusalPacer(int above, TimeProvider time, ILogger logger)
{
    /// <summary>How long a refusal is held while refusals storm: the shortest Retry-After sent.</summary>
    public static readonly TimeSpan Hold = TimeSpan.FromSeconds(1);

    /// <summary>The most refusals held at once.</summary>
    public const int MostHeld = 4096;

    private readonly Lock _gate = new();
    private long _windowStart = time.GetTimestamp();
    private int _count;
    private volatile bool _pacing;
    private int _held;

    /// <summary>Gets the refusals held now.</summary>
    public int Held => Volatile.Read(ref _held);

    /// <summary>Counts a refusal; whether it is to be held before it is answered.</summary>
    public bool ShouldHold()
    {
        if (above <= 0)
        {
            return false;
        }

        long now = time.GetTimestamp();
        if (time.GetElapsedTime(Volatile.Read(ref _windowStart), now) >= TimeSpan.FromSeconds(1))
        {
            NextWindow(now);
        }

        if (Interlocked.Increment(ref _count) > above && !_pacing)
        {
            Start();
        }

        return _pacing && Volatile.Read(ref _held) < MostHeld;
    }

    /// <summary>Holds a refusal for <see cref="Hold"/>; false when the client left meanwhile (nothing to answer).</summary>
    public async Task<bool> HoldAsync(CancellationToken aborted)
    {
        Interlocked.Increment(ref _held);
        try
        {
            await Task.Delay(Hold, time, aborted).ConfigureAwait(false);
            return true;
        }
        catch (OperationCanceledException) when (aborted.IsCancellationRequested)
        {
            return false;
        }
        finally
        {
            Interlocked.Decrement(ref _held);
        }
    }

    private void NextWindow(long now)
    {
        lock (_gate)
        {
            TimeSpan elapsed = time.GetElapsedTime(_windowStart, now);
            if (elapsed < TimeSpan.FromSeconds(1))
            {
                return;
            }

            // The window just ended decides, unless it ended long ago: then the last second had none.
            int last = elapsed < TimeSpan.FromSeconds(2) ? Volatile.Read(ref _count) : 0;
            if (_pacing && last < Math.Max(1, above / 100))
            {
                _pacing = false;
                LogStopped(logger, above);
            }

            Volatile.Write(ref _count, 0);
            Volatile.Write(ref _windowStart, now);
        }
    }

    private void Start()
    {
        lock (_gate)
        {
            if (_pacing)
            {
                return;
            }

            _pacing = true;
        }

        LogStarted(logger, above, Hold.TotalSeconds);
    }

    [LoggerMessage(4, LogLevel.Warning, "Refusals came faster than {Above} a second: each is now answered after {Seconds} s, until they slow down (Http:SlowRefusalsAbove).")]
    private static partial void LogStarted(ILogger logger, int above, double seconds);

    [LoggerMessage(5, LogLevel.Information, "Refusals slowed down below a hundredth of {Above} a second: they are answered at once again.")]
    private static partial void LogStopped(ILogger logger, int above);
}
