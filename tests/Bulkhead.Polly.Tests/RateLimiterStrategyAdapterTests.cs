using Microsoft.Extensions.DependencyInjection;
using Polly;
using Polly.RateLimiting;

namespace Bulkhead.Polly.Tests;

/// <summary>A workload class given to Polly's own rate limiter strategy, as the platform limiter it takes.</summary>
public sealed class RateLimiterStrategyAdapterTests : IDisposable
{
    private readonly ServiceProvider _services = new ServiceCollection()
        .AddWorkloadIsolation(o =>
        {
            o.TotalConcurrency = 4;
            o.DefaultClass = "interactive";
            o.AddClass("interactive", c => c.Priority = 0);
            o.AddClass("reporting", c => { c.Priority = 2; c.MaxConcurrency = 1; c.QueueLimit = 0; });
        })
        .Services.BuildServiceProvider();

    private IWorkloadScheduler Scheduler => _services.GetRequiredService<IWorkloadScheduler>();

    public void Dispose() => _services.Dispose();

    [Fact]
    public async Task PollysRateLimiterStrategy_HoldsASeatOfTheClassAroundTheCallback_AndRefusesWhenNoneIsFree()
    {
        ResiliencePipeline pipeline = new ResiliencePipelineBuilder().AddRateLimiter(Scheduler.CreateRateLimiter("reporting")).Build();
        var gate = new Gate();

        Task held = pipeline.ExecuteAsync(async _ => await gate.WaitAsync()).AsTask();
        await gate.Entered.WithTimeout();
        Assert.Equal(1, Scheduler.GetSnapshot()["reporting"].InFlight);

        RateLimiterRejectedException refused = await Assert.ThrowsAsync<RateLimiterRejectedException>(
            () => pipeline.ExecuteAsync(_ => ValueTask.CompletedTask).AsTask().WithTimeout());
        Assert.Null(refused.RetryAfter);

        gate.Open();
        await held.WithTimeout();
        Assert.Equal((0, 1L, 1L), (Scheduler.GetSnapshot()["reporting"].InFlight, Scheduler.GetSnapshot()["reporting"].Admitted, Scheduler.GetSnapshot()["reporting"].Rejected));
    }
}
