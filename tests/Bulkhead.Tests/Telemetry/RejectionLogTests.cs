using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;

namespace Bulkhead.Tests.Telemetry;

/// <summary>Rejections are logged as a rate-limited summary while a class rejects, never one line per rejection.</summary>
public sealed class RejectionLogTests : IDisposable
{
    private readonly FakeTimeProvider _time = new();
    private readonly ListLoggerProvider _logs = new();
    private readonly TestScheduler _scheduler;

    public RejectionLogTests()
    {
        var options = new WorkloadIsolationOptions { TotalConcurrency = 4, DefaultClass = "rated" };
        options.AddClass("rated", c => c.RateLimit = new WorkloadRateLimitOptions { PermitsPerSecond = 0.001, Burst = 1 });
        _scheduler = TestScheduler.Create(options, _time, logger: _logs.CreateLogger("Bulkhead.WorkloadIsolation"));
        _scheduler.TryAcquire("rated").Dispose();                   // the one permit: every attempt after is rejected
    }

    public void Dispose() => _scheduler.Dispose();

    [Fact]
    public void WhileAClassRejects_OneWarningASecondInThenOneEveryTenSeconds_ThenOneLineWhenItStops()
    {
        Reject(500);
        Assert.Empty(Lines());                                        // nothing per rejection

        _time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal([(LogLevel.Warning, "Workload class 'rated' rejected 500 unit(s) of work in the last 00:00:01 (rate_limited: 500); it has been rejecting for 00:00:01.")], Lines());

        Reject(30);
        _time.Advance(TimeSpan.FromSeconds(9));
        Assert.Single(Lines());                                       // at most one line per period
        _time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal((LogLevel.Warning, "Workload class 'rated' rejected 30 unit(s) of work in the last 00:00:10 (rate_limited: 30); it has been rejecting for 00:00:11."), Lines()[^1]);

        _time.Advance(TimeSpan.FromSeconds(10));                      // a whole period without a rejection
        Assert.Equal((LogLevel.Information, "Workload class 'rated' stopped rejecting: 530 unit(s) of work rejected over 00:00:11 (rate_limited: 530)."), Lines()[^1]);
        _time.Advance(TimeSpan.FromMinutes(5));
        Assert.Equal(3, Lines().Count);

        Reject(2);                                                    // a new episode
        _time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal((LogLevel.Warning, "Workload class 'rated' rejected 2 unit(s) of work in the last 00:00:01 (rate_limited: 2); it has been rejecting for 00:00:01."), Lines()[^1]);
    }

    [Fact]
    public void AfterDisposal_NothingIsLogged()
    {
        Reject(3);
        _scheduler.Dispose();
        _time.Advance(TimeSpan.FromSeconds(30));
        Assert.Empty(Lines());
    }

    private void Reject(int count)
    {
        for (int i = 0; i < count; i++)
        {
            Assert.Equal(WorkloadRejectionReason.RateLimited, _scheduler.TryAcquire("rated").RejectionReason);
        }
    }

    private List<(LogLevel Level, string Message)> Lines() => [.. _logs.Messages.Where(m => m.Message.Contains("reject", StringComparison.Ordinal))];
}
