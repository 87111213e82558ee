using Bulkhead.Adaptive.Internal;
using Bulkhead.Admission.Internal;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;

namespace Bulkhead.Tests.Adaptive;

/// <summary>
/// The adaptive controller at its edges: reloads racing its ticks, a switch-off racing a tick, callbacks that throw,
/// and a ThreadPool too starved to run its probes.
/// </summary>
public sealed class AdaptiveControllerTests
{
    [Fact]
    public async Task Tick_ReloadsAddingAndRemovingClassesMeanwhile_NeverThrows()
    {
        // A tick reads the classes in force and a snapshot of them; reloads that add and remove a class between the two
        // once threw KeyNotFoundException on the timer's thread, which ends the process under the system clock.
        var time = new FakeTimeProvider();
        using var scheduler = new WorkloadScheduler(Options(extraClass: false), time);
        using var stop = new CancellationTokenSource();
        int reloads = 0;
        Task reloader = Task.Run(() =>
        {
            while (!stop.IsCancellationRequested)
            {
                scheduler.Apply(Options(extraClass: Interlocked.Increment(ref reloads) % 2 == 0));
            }
        });

        try
        {
            // Ticks until 3,000 reloads have raced them (a few hundred were enough to end a process).
            long deadline = Environment.TickCount64 + (long)TaskTimeout.Bound.TotalMilliseconds;
            while (Volatile.Read(ref reloads) < 3_000 && !reloader.IsCompleted && Environment.TickCount64 < deadline)
            {
                scheduler.Adaptive.Tick();
            }
        }
        finally
        {
            await stop.CancelAsync();
            await reloader.WithTimeout();
        }

        Assert.True(reloads >= 3_000, $"only {reloads} reloads raced the ticks");
    }

    [Fact]
    public void SetEffectiveMaxima_ATickThatLandsAfterTheSwitchOff_ThrottlesNothing()
    {
        var time = new FakeTimeProvider();
        using var scheduler = new WorkloadScheduler(Options(extraClass: false), time);
        scheduler.Apply(Options(extraClass: false, enabled: false));

        // What a tick that decided before the switch-off sends once the switch-off is done.
        scheduler.Engine.SetEffectiveMaxima(new Dictionary<string, int> { ["reporting"] = 3 });
        Assert.Equal(12, scheduler.GetSnapshot()["reporting"].MaxConcurrency);

        // Nor does a later reload (still off) bring such a limit back.
        scheduler.Apply(Options(extraClass: true, enabled: false));
        Assert.Equal(12, scheduler.GetSnapshot()["reporting"].MaxConcurrency);
    }

    [Fact]
    public void SwitchOff_LimitsTheControllerSetAreGivenBack_AndSwitchingOnAgainStartsFromTheConfiguredOnes()
    {
        var time = new FakeTimeProvider();
        using var scheduler = new WorkloadScheduler(Options(extraClass: false), time);
        scheduler.Engine.SetEffectiveMaxima(new Dictionary<string, int> { ["reporting"] = 3 });
        Assert.Equal(3, scheduler.GetSnapshot()["reporting"].MaxConcurrency);

        scheduler.Apply(Options(extraClass: false, enabled: false));
        Assert.Equal(12, scheduler.GetSnapshot()["reporting"].MaxConcurrency);
        scheduler.Apply(Options(extraClass: false));
        Assert.Equal(12, scheduler.GetSnapshot()["reporting"].MaxConcurrency);
    }

    [Fact]
    public void Tick_ALoggerThatThrows_IsCaughtOnTheTimer_LoggedOnceAMinute_AndTheControllerGoesOn()
    {
        var time = new FakeTimeProvider();
        var logs = new ThrowingLoggerProvider(failingEventId: 60);           // the controller's "limit adjusted" line
        WorkloadIsolationOptions options = Options(extraClass: false);
        options.Adaptive.ThreadPoolDelayP99 = TimeSpan.FromMilliseconds(2);
        options.Classes["interactive"].Objective = null;
        using var scheduler = new WorkloadScheduler(options, time, logger: logs.CreateLogger("test"));
        List<WorkloadLease> reports = [.. Enumerable.Range(0, 12).Select(_ => scheduler.TryAcquire("reporting"))];

        // Every window misses the objective and the controller lowers the limit, logging it: the log line throws.
        for (int window = 0; window < 6; window++)
        {
            for (int i = 0; i < 40; i++)
            {
                scheduler.Adaptive.RecordPoolDelay(TimeSpan.FromMilliseconds(10));
            }

            time.Advance(options.Adaptive.Window);
        }

        Assert.True(scheduler.Engine.TimerFaults.Count >= 2, $"{scheduler.Engine.TimerFaults.Count} faults");
        Assert.Single(logs.Messages, m => m.Level == LogLevel.Error && m.Message.Contains("adaptive protection", StringComparison.Ordinal));
        Assert.True(scheduler.GetSnapshot()["reporting"].MaxConcurrency < 12, "the limits are applied before they are logged");
        reports.ForEach(r => r.Dispose());
    }

    [Fact]
    public void ThreadPoolObjective_APoolTooStarvedToRunAnyProbe_StillShrinksTheLowerClass()
    {
        // The probe's work item never runs while the pool is starved: the age of the probe still waiting counts.
        var time = new FakeTimeProvider();
        WorkloadIsolationOptions options = Options(extraClass: false);
        options.Adaptive.ThreadPoolDelayP99 = TimeSpan.FromMilliseconds(50);
        options.Classes["interactive"].Objective = null;
        using var scheduler = new WorkloadScheduler(options, time);
        List<AdaptiveController> starved = [];
        scheduler.Adaptive.ProbesThreadPool = true;
        scheduler.Adaptive.QueueProbe = starved.Add;
        scheduler.Apply(options);
        List<WorkloadLease> reports = [.. Enumerable.Range(0, 12).Select(_ => scheduler.TryAcquire("reporting"))];

        // Three seconds of starvation, in probe intervals.
        for (int step = 0; step < 600; step++)
        {
            time.Advance(AdaptiveController.ProbeInterval);
        }

        Assert.Single(starved);                                                 // one probe at a time, still waiting
        WorkloadSnapshot during = scheduler.GetSnapshot();
        Assert.True(during["reporting"].MaxConcurrency < 12, $"reporting may still run {during["reporting"].MaxConcurrency}");
        Assert.True(during.MeasuredThreadPoolDelayP99 >= TimeSpan.FromSeconds(2), $"observed {during.MeasuredThreadPoolDelayP99}");

        // The pool runs again: the probe's delay is one measure, and probes resume.
        starved[0].ProbeRan();
        time.Advance(AdaptiveController.ProbeInterval);
        Assert.Equal(2, starved.Count);
        reports.ForEach(r => r.Dispose());
    }

    private static WorkloadIsolationOptions Options(bool extraClass, bool enabled = true)
    {
        var options = new WorkloadIsolationOptions { TotalConcurrency = 16, DefaultClass = "interactive" };
        options.Adaptive.Enabled = enabled;
        options.Adaptive.Window = TimeSpan.FromSeconds(1);
        options.Adaptive.MinSamples = 10;
        options.AddClass("interactive", c =>
        {
            c.ReservedConcurrency = 4;
            c.Objective = new WorkloadObjectiveOptions { SeatTimeP99 = TimeSpan.FromMilliseconds(10) };
        });
        options.AddClass("reporting", c => { c.Priority = 2; c.MaxConcurrency = 12; });
        if (extraClass)
        {
            options.AddClass("batch", c => { c.Priority = 3; c.MaxConcurrency = 2; });
        }

        return options;
    }

    /// <summary>Keeps every message, and throws from the one with <paramref name="failingEventId"/> (a broken logging provider).</summary>
    private sealed class ThrowingLoggerProvider(int failingEventId) : ILoggerProvider
    {
        public System.Collections.Concurrent.ConcurrentQueue<(LogLevel Level, string Message)> Messages { get; } = new();

        public int FailingEventId => failingEventId;

        public ILogger CreateLogger(string categoryName) => new Logger(this);

        public void Dispose()
        {
        }

        private sealed class Logger(ThrowingLoggerProvider provider) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state)
                where TState : notnull => null;

            public bool IsEnabled(LogLevel logLevel) => true;

            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
            {
                if (eventId.Id == provider.FailingEventId)
                {
                    throw new InvalidOperationException("The logging provider failed.");
                }

                provider.Messages.Enqueue((logLevel, formatter(state, exception)));
            }
        }
    }
}
