using Microsoft.Extensions.Logging;

namespace Bulkhead.Timing.Internal;

/// <summary>
/// Where every timer callback of Bulkhead reports what it threw. A timer callback runs on a timer or ThreadPool thread,
/// where an exception ends the process: each one catches, reports here and goes on. The first fault is logged at once,
/// then at most one line per <see cref="LogEvery"/>, saying how many went unlogged in between.
/// </summary>
internal sealed partial class TimerFaults(ILogger logger, TimeProvider timeProvider)
{
    public static readonly TimeSpan LogEvery = TimeSpan.FromMinutes(1);

    private const long NeverLogged = long.MinValue;

    private long _faults;
    private long _unlogged;
    private long _loggedAt = NeverLogged;

    /// <summary>Gets how many timer callbacks failed since start.</summary>
    public long Count => Volatile.Read(ref _faults);

    /// <summary>Runs one timer callback: whatever it throws is reported, never passed on to the thread that runs it.</summary>
    public void Run(string timer, Action<object?> callback, object? state)
    {
        try
        {
            callback(state);
        }
        catch (Exception exception)
        {
            Report(timer, exception);
        }
    }

    /// <summary>Counts a fault and logs it unless another was logged less than <see cref="LogEvery"/> ago.</summary>
    public void Report(string timer, Exception exception)
    {
        Interlocked.Increment(ref _faults);
        try
        {
            long now = timeProvider.GetTimestamp();
            long last = Volatile.Read(ref _loggedAt);
            if ((last != NeverLogged && timeProvider.GetElapsedTime(last, now) < LogEvery)
                || Interlocked.CompareExchange(ref _loggedAt, now, last) != last)
            {
                Interlocked.Increment(ref _unlogged);
                return;
            }

            LogFault(logger, timer, Interlocked.Exchange(ref _unlogged, 0), exception);
        }
        catch (Exception)
        {
            // A logger that throws must not end the process either: the fault is still counted.
        }
    }

    [LoggerMessage(34, LogLevel.Error, "A Bulkhead timer ({Timer}) failed; it goes on at its next turn. {Unlogged} other timer failure(s) since the last one logged were not logged.")]
    private static partial void LogFault(ILogger logger, string timer, long unlogged, Exception exception);
}
