using System.Diagnostics.Metrics;
using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Http.Resilience;
using Microsoft.Extensions.Time.Testing;
using Polly;

namespace Bulkhead.Polly.Tests;

public sealed class RetryBudgetTests
{
    [Fact]
    public void ABudget_AllowsItsMinimumAndItsShareOfTheCallsInTheWindow_AndForgetsWhatLeftIt()
    {
        var time = new FakeTimeProvider();
        var budget = new WorkloadRetryBudget("payments-api", new() { RetryRatio = 0.1, MinRetriesPerSecond = 0, Window = TimeSpan.FromSeconds(10) }, time);
        Assert.False(budget.TryRetry());

        for (int i = 0; i < 100; i++)
        {
            budget.RecordCall();
        }

        Assert.All(Enumerable.Range(0, 10), _ => Assert.True(budget.TryRetry()));
        Assert.False(budget.TryRetry());

        // A window later the calls and retries are forgotten: ten new calls earn one retry.
        time.Advance(TimeSpan.FromSeconds(11));
        for (int i = 0; i < 10; i++)
        {
            budget.RecordCall();
        }

        Assert.True(budget.TryRetry());
        Assert.False(budget.TryRetry());

        // The minimum holds however few calls are made: two a second over a window of two seconds.
        var quiet = new WorkloadRetryBudget("quiet", new() { RetryRatio = 0, MinRetriesPerSecond = 2, Window = TimeSpan.FromSeconds(2) }, time);
        Assert.All(Enumerable.Range(0, 4), _ => Assert.True(quiet.TryRetry()));
        Assert.False(quiet.TryRetry());
    }

    [Fact]
    public async Task AResilienceHandlerUnderABudget_StopsRetryingAFailingDependency_AndTheCallerGetsTheDependencysOwnFailure()
    {
        // A dependency that answers every call 503; two clients retry it up to 3 times, one of them under a budget of
        // a retry per ten calls (no minimum). The budget's window never moves here: the clock is fake.
        int withBudget = 0;
        int without = 0;
        var services = new ServiceCollection();
        services.AddSingleton<TimeProvider>(new FakeTimeProvider());
        services.AddWorkloadRetryBudget("payments-api", o => { o.RetryRatio = 0.1; o.MinRetriesPerSecond = 0; });
        services.AddHttpClient("budgeted")
            .ConfigurePrimaryHttpMessageHandler(() => new FailingDependency(() => Interlocked.Increment(ref withBudget)))
            .AddResilienceHandler("retry", (pipeline, context) => pipeline.AddRetry(
                Retries().WithRetryBudget(context.ServiceProvider.GetRequiredKeyedService<WorkloadRetryBudget>("payments-api"))));
        services.AddHttpClient("unbudgeted")
            .ConfigurePrimaryHttpMessageHandler(() => new FailingDependency(() => Interlocked.Increment(ref without)))
            .AddResilienceHandler("retry", pipeline => pipeline.AddRetry(Retries()));
        await using ServiceProvider provider = services.BuildServiceProvider();
        var meters = provider.GetRequiredService<IMeterFactory>();
        long retried = 0;
        long refused = 0;
        using var listener = new MeterListener
        {
            InstrumentPublished = (instrument, l) =>
            {
                if (instrument.Meter.Scope == meters && instrument.Name.StartsWith("bulkhead.retry_budget.", StringComparison.Ordinal))
                {
                    l.EnableMeasurementEvents(instrument);
                }
            },
        };
        listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) =>
        {
            Assert.Equal(("bulkhead.retry_budget", (object?)"payments-api"), (tags[0].Key, tags[0].Value));
            Interlocked.Add(ref instrument.Name == "bulkhead.retry_budget.retries" ? ref retried : ref refused, value);
        });
        listener.Start();
        IHttpClientFactory clients = provider.GetRequiredService<IHttpClientFactory>();

        for (int i = 0; i < 50; i++)
        {
            using HttpResponseMessage budgeted = await clients.CreateClient("budgeted").GetAsync(new Uri("http://payments.test/charge")).WithTimeout();
            using HttpResponseMessage unbudgeted = await clients.CreateClient("unbudgeted").GetAsync(new Uri("http://payments.test/charge")).WithTimeout();
            Assert.Equal(HttpStatusCode.ServiceUnavailable, budgeted.StatusCode);
            Assert.Equal("the dependency", budgeted.ReasonPhrase);
        }

        // Without the budget, 4 attempts per call; with it, the first call's failure and one in ten after it are retried
        // once (the retry fails too, and the budget is spent): 50 calls and 5 retries.
        Assert.Equal(200, without);
        Assert.Equal(55, withBudget);
        Assert.Equal(5, Interlocked.Read(ref retried));
        Assert.Equal(50, Interlocked.Read(ref refused));
    }

    [Fact]
    public async Task TheLastAttempt_SpendsNothing()
    {
        // One retry allowed by the strategy, two retries per call by the budget: a call that always fails spends one.
        var budget = new WorkloadRetryBudget("payments-api", new() { RetryRatio = 2, MinRetriesPerSecond = 0 }, new FakeTimeProvider());
        int attempts = 0;
        ResiliencePipeline<int> pipeline = new ResiliencePipelineBuilder<int>()
            .AddRetry(new global::Polly.Retry.RetryStrategyOptions<int> { MaxRetryAttempts = 1, Delay = TimeSpan.Zero, ShouldHandle = args => ValueTask.FromResult(args.Outcome.Result < 0) }.WithRetryBudget(budget))
            .Build();

        Assert.Equal(-1, await pipeline.ExecuteAsync(_ =>
        {
            attempts++;
            return ValueTask.FromResult(-1);
        }));
        Assert.Equal(2, attempts);
        Assert.True(budget.TryRetry());
        Assert.False(budget.TryRetry());
    }

    [Fact]
    public void ABudgetOutOfRange_IsRefusedWhereItIsRegistered_NamingItAndTheValue()
    {
        var services = new ServiceCollection();
        ArgumentException error = Assert.Throws<ArgumentException>(() => services.AddWorkloadRetryBudget("payments-api", o => o.RetryRatio = -1));
        Assert.Contains("'payments-api'", error.Message, StringComparison.Ordinal);
        Assert.Contains("RetryRatio of at least 0 (it is -1)", error.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => services.AddWorkloadRetryBudget("payments-api", o => o.Window = TimeSpan.FromMilliseconds(500)));
        Assert.Empty(services);
    }

    private static HttpRetryStrategyOptions Retries() => new() { MaxRetryAttempts = 3, Delay = TimeSpan.Zero, UseJitter = false };

    private sealed class FailingDependency(Action counted) : HttpMessageHandler
    {
        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            counted();
            return Task.FromResult(new HttpResponseMessage(HttpStatusCode.ServiceUnavailable) { RequestMessage = request, ReasonPhrase = "the dependency" });
        }
    }
}
