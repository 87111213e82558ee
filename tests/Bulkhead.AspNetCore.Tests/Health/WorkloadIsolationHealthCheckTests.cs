using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Time.Testing;

namespace Bulkhead.AspNetCore.Tests.Health;

/// <summary>The health check's states on fake time: Healthy, Degraded by a long wait or a rejection, Unhealthy when rejections go on.</summary>
public sealed class WorkloadIsolationHealthCheckTests : IAsyncDisposable
{
    private readonly FakeTimeProvider _time = new();
    private readonly ServiceProvider _services;

    public WorkloadIsolationHealthCheckTests()
    {
        var services = new ServiceCollection().AddLogging();
        services.AddSingleton<TimeProvider>(_time);
        services.AddWorkloadIsolation(o =>
        {
            o.TotalConcurrency = 2;
            o.DefaultClass = "interactive";
            o.AddClass("interactive", c => { c.MaxConcurrency = 1; c.QueueLimit = 1; c.QueueTimeout = Timeout.InfiniteTimeSpan; });
            o.AddClass("batch", c => c.Priority = 3);
        });
        services.AddHealthChecks().AddWorkloadIsolation(o =>
        {
            o.MaxWaiterAge = TimeSpan.FromSeconds(1);
            o.Window = TimeSpan.FromSeconds(30);
            o.UnhealthyAfter = TimeSpan.FromMinutes(1);
        });
        _services = services.BuildServiceProvider();
    }

    [Fact]
    public async Task States_FollowWaitsAndRejectionsOfTheMostImportantClass()
    {
        IWorkloadScheduler scheduler = _services.GetRequiredService<IWorkloadScheduler>();
        Assert.Equal(HealthStatus.Healthy, (await CheckAsync()).Status);

        // A waiter older than a second: Degraded.
        WorkloadLease held = scheduler.TryAcquire("interactive");
        Task<WorkloadLease> waiting = scheduler.AcquireAsync("interactive").AsTask();
        _time.Advance(TimeSpan.FromSeconds(2));
        HealthReport waited = await CheckAsync();
        Assert.Equal(HealthStatus.Degraded, waited.Status);
        Assert.Contains("waited", waited.Entries["workload-isolation"].Description, StringComparison.Ordinal);

        // A rejection: Degraded for a window; rejections every window for a minute: Unhealthy.
        for (int i = 0; i < 7; i++)
        {
            Assert.False(scheduler.TryAcquire("interactive").IsAcquired);
            HealthReport report = await CheckAsync();
            Assert.Equal(i < 6 ? HealthStatus.Degraded : HealthStatus.Unhealthy, report.Status);
            _time.Advance(TimeSpan.FromSeconds(10));
        }

        // Rejections stop: after a window without any, back to Healthy once nothing waits.
        held.Dispose();
        (await waiting.WithTimeout()).Dispose();
        _time.Advance(TimeSpan.FromSeconds(31));
        await CheckAsync();
        _time.Advance(TimeSpan.FromSeconds(31));
        HealthReport recovered = await CheckAsync();
        Assert.Equal(HealthStatus.Healthy, recovered.Status);
        Assert.Equal("interactive", recovered.Entries["workload-isolation"].Data["workloadClass"]);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(4)]
    [InlineData(120)]
    public async Task Verdict_SixSecondsOfRejectionsLongAgo_IsTheSameWhateverTheProbeInterval(int probeEverySeconds)
    {
        // Rejections for six seconds, then none: probed every second, every four, or once after two minutes, the check
        // answers by when the rejections were (it once answered Unhealthy to the first probe in two minutes).
        List<(double Second, HealthReportEntry Entry)> verdicts = await ProbeAsync(probeEverySeconds, seconds: 180, rejectingUntil: 6);

        // The last rejection was at 5.9 s: Degraded while it lies within the 30-second window, Healthy after; never Unhealthy.
        Assert.All(verdicts, v => Assert.Equal(v.Second < 36 ? HealthStatus.Degraded : HealthStatus.Healthy, v.Entry.Status));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(4)]
    [InlineData(120)]
    public async Task Verdict_RejectionsThatGoOn_AreUnhealthyAfterTwoMinutesWhateverTheProbeInterval(int probeEverySeconds)
    {
        // Rejections all along: the first probe on a fresh process after 56,464 rejections once answered Healthy.
        List<(double Second, HealthReportEntry Entry)> verdicts = await ProbeAsync(probeEverySeconds, seconds: 180, rejectingUntil: 180);

        Assert.All(verdicts, v => Assert.Equal(v.Second >= 120 ? HealthStatus.Unhealthy : HealthStatus.Degraded, v.Entry.Status));
        Assert.Contains("has kept rejecting work for 00:02:", verdicts.First(v => v.Second >= 120).Entry.Description, StringComparison.Ordinal);
    }

    /// <summary>
    /// Ten tries a second at a class whose one seat is held, until <paramref name="rejectingUntil"/>, on fake time; the
    /// check (its defaults: a 30-second window, Unhealthy after 2 minutes) probed every <paramref name="probeEverySeconds"/>.
    /// </summary>
    private static async Task<List<(double Second, HealthReportEntry Entry)>> ProbeAsync(int probeEverySeconds, int seconds, int rejectingUntil)
    {
        var time = new FakeTimeProvider();
        var services = new ServiceCollection().AddLogging();
        services.AddSingleton<TimeProvider>(time);
        services.AddWorkloadIsolation(o =>
        {
            o.TotalConcurrency = 2;
            o.DefaultClass = "interactive";
            o.AddClass("interactive", c => { c.MaxConcurrency = 1; c.QueueLimit = 0; });
            o.AddClass("batch", c => c.Priority = 3);
        });
        services.AddHealthChecks().AddWorkloadIsolation();
        await using ServiceProvider provider = services.BuildServiceProvider();
        IWorkloadScheduler scheduler = provider.GetRequiredService<IWorkloadScheduler>();
        using WorkloadLease held = scheduler.TryAcquire("interactive");
        List<(double Second, HealthReportEntry Entry)> verdicts = [];

        for (int tenth = 1; tenth <= seconds * 10; tenth++)
        {
            if (tenth <= rejectingUntil * 10)
            {
                Assert.False(scheduler.TryAcquire("interactive").IsAcquired);
            }

            time.Advance(TimeSpan.FromMilliseconds(100));
            if (tenth % (probeEverySeconds * 10) == 0)
            {
                HealthReport report = await provider.GetRequiredService<HealthCheckService>().CheckHealthAsync();
                verdicts.Add((tenth / 10.0, report.Entries["workload-isolation"]));
            }
        }

        Assert.NotEmpty(verdicts);
        return verdicts;
    }

    [Fact]
    public void AddWorkloadIsolation_AWindowLongerThanTheEngineKeeps_Throws()
    {
        var services = new ServiceCollection();

        var failure = Assert.Throws<ArgumentOutOfRangeException>(() => services.AddHealthChecks().AddWorkloadIsolation(o => o.UnhealthyAfter = TimeSpan.FromHours(2)));

        Assert.Contains("UnhealthyAfter (02:00:00) must be positive and at most an hour", failure.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ProtectedClassNotConfigured_IsUnhealthyNamingIt()
    {
        var services = new ServiceCollection().AddLogging();
        services.AddWorkloadIsolation(o => o.AddClass("interactive").DefaultClass = "interactive");
        services.AddHealthChecks().AddWorkloadIsolation(o => o.ProtectedClass = "checkout");
        await using ServiceProvider provider = services.BuildServiceProvider();

        HealthReport report = await provider.GetRequiredService<HealthCheckService>().CheckHealthAsync();

        Assert.Equal(HealthStatus.Unhealthy, report.Status);
        Assert.Contains("'checkout'", report.Entries["workload-isolation"].Description, StringComparison.Ordinal);
    }

    public ValueTask DisposeAsync() => _services.DisposeAsync();

    private Task<HealthReport> CheckAsync() => _services.GetRequiredService<HealthCheckService>().CheckHealthAsync();
}
