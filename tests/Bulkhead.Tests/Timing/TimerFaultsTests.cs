using Bulkhead.Timing.Internal;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;

namespace Bulkhead.Tests.Timing;

public sealed class TimerFaultsTests
{
    [Fact]
    public void Run_CallbackThrows_CountsEveryFault_LogsTheFirstAndThenOneAMinuteWithWhatWentUnlogged()
    {
        var time = new FakeTimeProvider();
        var logs = new ListLoggerProvider();
        var faults = new TimerFaults(logs.CreateLogger("test"), time);

        for (int i = 0; i < 5; i++)
        {
            faults.Run("test timer", static _ => throw new InvalidOperationException("boom"), null);
            time.Advance(TimeSpan.FromSeconds(10));
        }

        Assert.Equal(5, faults.Count);
        Assert.Single(logs.Messages);

        time.Advance(TimerFaults.LogEvery);
        faults.Run("test timer", static _ => throw new InvalidOperationException("boom"), null);

        Assert.Equal(6, faults.Count);
        Assert.Equal(2, logs.Messages.Count);
        (LogLevel level, string message) = logs.Messages.Last();
        Assert.Equal(LogLevel.Error, level);
        Assert.Contains("4 other timer failure(s)", message, StringComparison.Ordinal);
    }

    [Fact]
    public void Run_CallbackSucceeds_NothingCountedOrLogged()
    {
        var logs = new ListLoggerProvider();
        var faults = new TimerFaults(logs.CreateLogger("test"), new FakeTimeProvider());
        int calls = 0;

        faults.Run("test timer", _ => calls++, null);

        Assert.Equal((1, 0L), (calls, faults.Count));
        Assert.Empty(logs.Messages);
    }
}
