using System.Net;
using Bulkhead.AspNetCore.Rejection.Internal;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace Bulkhead.AspNetCore.Tests.Rejection;

/// <summary>Refusals that storm are answered after a second each, until they slow down; the rest at once.</summary>
public sealed class RefusalPacerTests
{
    [Fact]
    public async Task AboveTheThreshold_RefusalsAreHeldASecond_UntilASecondWithFewerThanAHundredth()
    {
        var time = new FakeTimeProvider();
        var pacer = new RefusalPacer(above: 100, time, NullLogger.Instance);

        Assert.All(Enumerable.Range(0, 100), _ => Assert.False(pacer.ShouldHold()));
        Assert.True(pacer.ShouldHold());                                       // the 101st in the second

        Task<bool> held = pacer.HoldAsync(CancellationToken.None);
        time.Advance(RefusalPacer.Hold - TimeSpan.FromTicks(1));
        Assert.False(held.IsCompleted);
        Assert.Equal(1, pacer.Held);
        time.Advance(TimeSpan.FromTicks(1));
        Assert.True(await held.WithTimeout());
        Assert.Equal(0, pacer.Held);

        // A second with one refusal keeps it on (a hundredth of 100); a second with none ends it.
        Assert.True(pacer.ShouldHold());
        time.Advance(TimeSpan.FromSeconds(1));
        Assert.True(pacer.ShouldHold());
        time.Advance(TimeSpan.FromSeconds(1));
        Assert.True(pacer.ShouldHold());
        time.Advance(TimeSpan.FromSeconds(2));
        Assert.False(pacer.ShouldHold());
    }

    [Fact]
    public async Task HeldRefusals_AreBounded_AndAClientThatLeavesGetsNothing()
    {
        var time = new FakeTimeProvider();
        var pacer = new RefusalPacer(above: 1, time, NullLogger.Instance);
        pacer.ShouldHold();
        Assert.True(pacer.ShouldHold());
        using var leave = new CancellationTokenSource();
        Task<bool>[] held = [.. Enumerable.Range(0, RefusalPacer.MostHeld).Select(_ => pacer.HoldAsync(leave.Token))];

        Assert.False(pacer.ShouldHold());                                      // full: answered at once
        await leave.CancelAsync();
        Assert.All(await Task.WhenAll(held).WithTimeout(), Assert.False);
        Assert.Equal(0, pacer.Held);
        Assert.True(pacer.ShouldHold());
    }

    [Fact]
    public void Zero_AnswersEveryRefusalAtOnce()
    {
        var pacer = new RefusalPacer(above: 0, new FakeTimeProvider(), NullLogger.Instance);

        Assert.All(Enumerable.Range(0, 10_000), _ => Assert.False(pacer.ShouldHold()));
    }

    [Fact]
    public async Task EndToEnd_TheRefusalsPastTheThreshold_AreAnsweredASecondLater()
    {
        var time = new HoldCountingTimeProvider();
        await using TestApp app = await TestApp.StartAsync(
            o => o.AddClass("default").AddClass("partner", c => c.RateLimit = new WorkloadRateLimitOptions { PermitsPerSecond = 1, Burst = 1 }),
            a => a.MapGet("/partner", () => "ok").WithWorkloadClass("partner"),
            s =>
            {
                s.AddSingleton<TimeProvider>(time);
                s.AddWorkloadIsolation().ConfigureHttp(h => h.SlowRefusalsAbove = 3);
            });
        using HttpClient client = app.CreateClient();
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync(new Uri("/partner", UriKind.Relative))).StatusCode);
        for (int i = 0; i < 3; i++)
        {
            using HttpResponseMessage refused = await client.GetAsync(new Uri("/partner", UriKind.Relative)).WithTimeout();
            Assert.Equal(HttpStatusCode.TooManyRequests, refused.StatusCode);
        }

        Task<HttpResponseMessage> held = client.GetAsync(new Uri("/partner", UriKind.Relative));
        await Eventually.TrueAsync(() => time.Holds == 1, "the fourth refusal is held");
        time.Advance(RefusalPacer.Hold - TimeSpan.FromTicks(1));
        Assert.False(held.IsCompleted);
        time.Advance(TimeSpan.FromTicks(1));

        using HttpResponseMessage answered = await held.WithTimeout();
        Assert.Equal(HttpStatusCode.TooManyRequests, answered.StatusCode);
        Assert.NotNull(answered.Headers.RetryAfter);
    }

    /// <summary>Fake time that counts the timers of a refusal's hold.</summary>
    private sealed class HoldCountingTimeProvider : FakeTimeProvider
    {
        private int _holds;

        public int Holds => Volatile.Read(ref _holds);

        public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
        {
            if (dueTime == RefusalPacer.Hold)
            {
                Interlocked.Increment(ref _holds);
            }

            return base.CreateTimer(callback, state, dueTime, period);
        }
    }
}
