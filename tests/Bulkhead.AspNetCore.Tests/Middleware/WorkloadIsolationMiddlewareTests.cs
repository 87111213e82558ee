using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace Bulkhead.AspNetCore.Tests.Middleware;

public sealed class WorkloadIsolationMiddlewareTests
{
    [Fact]
    public async Task InvokeAsync_DecoratedScheduler_TakesEverySeatThroughTheDecorator()
    {
        using var factory = new PipelineFactory(
            o => o.AddClass("default").AddClass("reporting"),
            _ => Task.CompletedTask,
            b => CountingScheduler.Decorate(b.ConfigureHttp(h => h.Rules.Add(new WorkloadClassRule { PathPrefix = "/reports", Class = "reporting" })).Services));

        await factory.Pipeline(factory.NewContext("/")).WithTimeout();
        await factory.Pipeline(factory.NewContext("/reports/1")).WithTimeout();
        await factory.Pipeline(factory.NewContext("/x", PipelineFactory.Endpoint(new WorkloadClassAttribute("reporting")))).WithTimeout();

        Assert.Equal(3, factory.Services.GetRequiredService<CountingScheduler>().Acquired);
        Assert.Equal((1L, 2L), (factory.Scheduler.GetSnapshot()["default"].Admitted, factory.Scheduler.GetSnapshot()["reporting"].Admitted));
    }

    [Fact]
    public async Task InvokeAsync_ExecutionTimeout_FiresRequestAbortedAndRestoresTheOriginalToken()
    {
        CancellationToken seen = default;
        PipelineFactory? factory = null;
        using var created = factory = new PipelineFactory(
            o => o.AddClass("default", c => c.Execution = new WorkloadExecutionOptions { Timeout = TimeSpan.FromSeconds(2) }),
            async context =>
            {
                seen = context.RequestAborted;
                await Task.Delay(Timeout.InfiniteTimeSpan, factory!.Time, context.RequestAborted);
            });
        DefaultHttpContext context = factory.NewContext("/");
        CancellationToken original = context.RequestAborted;

        Task request = factory.Pipeline(context);
        Assert.False(request.IsCompleted);
        factory.Time.Advance(TimeSpan.FromSeconds(2));

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => request.WithTimeout());
        Assert.True(seen.IsCancellationRequested);
        Assert.Equal(original, context.RequestAborted);
        WorkloadClassSnapshot snapshot = factory.Scheduler.GetSnapshot()["default"];
        Assert.Equal((0, 1L), (snapshot.InFlight, snapshot.ExecutionTimeouts));
    }

    [Fact]
    public async Task Invoke_SeatFree_RunsPipelineHoldingASeatAndFreesIt()
    {
        int inFlightDuringRequest = -1;
        PipelineFactory? factory = null;
        using var created = factory = new PipelineFactory(
            o => o.AddClass("default"),
            _ => { inFlightDuringRequest = factory!.Scheduler.GetSnapshot()["default"].InFlight; return Task.CompletedTask; });

        await factory.Pipeline(factory.NewContext()).WithTimeout();

        Assert.Equal(1, inFlightDuringRequest);
        Assert.Equal(0, factory.Scheduler.GetSnapshot()["default"].InFlight);
    }

    [Fact]
    public async Task Invoke_PipelineCompletesAsynchronously_FreesTheSeatWhenItCompletes()
    {
        var gate = new Gate();
        using var factory = new PipelineFactory(o => o.AddClass("default"), _ => gate.WaitAsync());

        Task request = factory.Pipeline(factory.NewContext());
        await gate.Entered.WithTimeout();
        Assert.Equal(1, factory.Scheduler.GetSnapshot()["default"].InFlight);
        gate.Open();
        await request.WithTimeout();

        Assert.Equal(0, factory.Scheduler.GetSnapshot()["default"].InFlight);
    }

    [Fact]
    public async Task Invoke_PipelineThrows_FreesTheSeatAndPropagates()
    {
        using var syncFactory = new PipelineFactory(o => o.AddClass("default"), _ => throw new InvalidOperationException("sync"));
        using var asyncFactory = new PipelineFactory(o => o.AddClass("default"), async _ => { await Task.Yield(); throw new InvalidOperationException("async"); });

        await Assert.ThrowsAsync<InvalidOperationException>(() => syncFactory.Pipeline(syncFactory.NewContext()));
        await Assert.ThrowsAsync<InvalidOperationException>(() => asyncFactory.Pipeline(asyncFactory.NewContext()).WithTimeout());

        Assert.Equal(0, syncFactory.Scheduler.GetSnapshot()["default"].InFlight);
        Assert.Equal(0, asyncFactory.Scheduler.GetSnapshot()["default"].InFlight);
    }

    [Fact]
    public async Task Invoke_ExemptEndpoint_RunsWithoutASeatEvenWhenFull()
    {
        bool ran = false;
        using var factory = new PipelineFactory(o => { o.TotalConcurrency = 1; o.AddClass("default", c => c.QueueLimit = 0); }, _ => { ran = true; return Task.CompletedTask; });
        using WorkloadLease held = factory.Scheduler.TryAcquire("default");

        await factory.Pipeline(factory.NewContext(endpoint: PipelineFactory.Endpoint(new DisableWorkloadIsolationAttribute()))).WithTimeout();

        Assert.True(ran);
        Assert.Equal(1, factory.Counters.Exempt);
        Assert.Equal((1, 0L), (factory.Scheduler.GetSnapshot()["default"].InFlight, factory.Scheduler.GetSnapshot()["default"].Rejected));
    }

    [Fact]
    public async Task Invoke_QueueFull_Answers503WithRetryAfterAndProblemDetails()
    {
        bool ran = false;
        using var factory = new PipelineFactory(o => { o.TotalConcurrency = 1; o.AddClass("default", c => c.QueueLimit = 0); }, _ => { ran = true; return Task.CompletedTask; });
        using WorkloadLease held = factory.Scheduler.TryAcquire("default");
        DefaultHttpContext context = factory.NewContext();

        await factory.Pipeline(context).WithTimeout();

        Assert.False(ran);
        Assert.Equal(StatusCodes.Status503ServiceUnavailable, context.Response.StatusCode);
        Assert.Equal("1", context.Response.Headers.RetryAfter);
        Assert.StartsWith("application/problem+json", context.Response.ContentType, StringComparison.Ordinal);
        using JsonDocument body = ReadBody(context);
        Assert.Equal(503, body.RootElement.GetProperty("status").GetInt32());
        Assert.Equal("https://tools.ietf.org/html/rfc9110#section-15.6.4", body.RootElement.GetProperty("type").GetString());
        Assert.Equal(context.TraceIdentifier, body.RootElement.GetProperty("traceId").GetString());
        Assert.False(body.RootElement.TryGetProperty("workloadClass", out _));
        Assert.False(body.RootElement.TryGetProperty("reason", out _));
    }

    [Fact]
    public async Task Invoke_QueuedThenTimedOut_Answers503()
    {
        using var factory = new PipelineFactory(
            o => { o.TotalConcurrency = 1; o.AddClass("default", c => c.QueueTimeout = TimeSpan.FromSeconds(2)); },
            _ => Task.CompletedTask,
            b => b.ConfigureHttp(h => { h.DefaultRetryAfter = TimeSpan.FromSeconds(2.5); h.IncludeRejectionDetails = true; }));
        using WorkloadLease held = factory.Scheduler.TryAcquire("default");
        DefaultHttpContext context = factory.NewContext();

        Task request = factory.Pipeline(context);
        Assert.False(request.IsCompleted);
        factory.Time.Advance(TimeSpan.FromSeconds(2));
        await request.WithTimeout();

        Assert.Equal(StatusCodes.Status503ServiceUnavailable, context.Response.StatusCode);
        Assert.Equal("3", context.Response.Headers.RetryAfter);
        using JsonDocument body = ReadBody(context);
        Assert.Equal("QueueTimeout", body.RootElement.GetProperty("reason").GetString());
    }

    [Fact]
    public async Task Invoke_ClientAbortsWhileQueued_WritesNothingAndFreesThePlace()
    {
        using var factory = new PipelineFactory(o => { o.TotalConcurrency = 1; o.AddClass("default"); }, _ => Task.CompletedTask);
        using WorkloadLease held = factory.Scheduler.TryAcquire("default");
        using var aborted = new CancellationTokenSource();
        DefaultHttpContext context = factory.NewContext();
        context.RequestAborted = aborted.Token;

        Task request = factory.Pipeline(context);
        Assert.Equal(1, factory.Scheduler.GetSnapshot()["default"].Queued);
        await aborted.CancelAsync();
        await request.WithTimeout();

        WorkloadClassSnapshot snapshot = factory.Scheduler.GetSnapshot()["default"];
        Assert.Equal((0, 0L, 1L), (snapshot.Queued, snapshot.Rejected, snapshot.Canceled));
        Assert.Equal(0, context.Response.Body.Length);
        Assert.Equal(StatusCodes.Status200OK, context.Response.StatusCode);
    }

    [Fact]
    public async Task Invoke_OnRejected_ReplacesTheBodyAfterStatusAndRetryAfterAreSet()
    {
        WorkloadRejectedContext? seen = null;
        using var factory = new PipelineFactory(
            o => { o.TotalConcurrency = 1; o.AddClass("default", c => c.QueueLimit = 0); },
            _ => Task.CompletedTask,
            b => b.ConfigureHttp(h => h.OnRejected = async (rejected, ct) =>
            {
                seen = rejected;
                rejected.HttpContext.Response.StatusCode = 507;
                await rejected.HttpContext.Response.WriteAsync("custom", ct);
            }));
        using WorkloadLease held = factory.Scheduler.TryAcquire("default");
        DefaultHttpContext context = factory.NewContext();

        await factory.Pipeline(context).WithTimeout();

        Assert.NotNull(seen);
        Assert.Equal(("default", WorkloadRejectionReason.QueueFull, TimeSpan.FromSeconds(1)), (seen.WorkloadClass, seen.Reason, seen.RetryAfter));
        Assert.Equal(507, context.Response.StatusCode);
        Assert.Equal("1", context.Response.Headers.RetryAfter);
        context.Response.Body.Position = 0;
        Assert.Equal("custom", new StreamReader(context.Response.Body).ReadToEnd());
    }

    [Fact]
    public async Task Invoke_UnknownClassOnEndpoint_RunsInDefaultClassNever500()
    {
        string? ranIn = null;
        PipelineFactory? factory = null;
        using var created = factory = new PipelineFactory(
            o => o.AddClass("default"),
            _ => { ranIn = factory!.Scheduler.GetSnapshot().Classes.Single(c => c.InFlight == 1).Name; return Task.CompletedTask; });
        DefaultHttpContext context = factory.NewContext(endpoint: PipelineFactory.Endpoint(new WorkloadClassAttribute("typo")));

        await factory.Pipeline(context).WithTimeout();

        Assert.Equal("default", ranIn);
        Assert.Equal(200, context.Response.StatusCode);
        Assert.Equal(1, factory.Counters.UnknownClassFallbacks);
    }

    private static JsonDocument ReadBody(HttpContext context)
    {
        context.Response.Body.Position = 0;
        return JsonDocument.Parse(context.Response.Body);
    }
}
