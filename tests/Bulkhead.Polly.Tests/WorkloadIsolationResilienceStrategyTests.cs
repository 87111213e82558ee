using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.DependencyInjection;
using Polly;
using Polly.Telemetry;

namespace Bulkhead.Polly.Tests;

public sealed class WorkloadIsolationResilienceStrategyTests : IDisposable
{
    private readonly ServiceProvider _services = new ServiceCollection()
        .AddWorkloadIsolation(o =>
        {
            o.TotalConcurrency = 2;
            o.DefaultClass = "reporting";
            o.AddClass("reporting", c => { c.MaxConcurrency = 1; c.QueueLimit = 0; });
            o.AddClass("batch", c => { c.Priority = 3; c.Execution = new WorkloadExecutionOptions { DedicatedThreads = 1 }; });
        })
        .Services.BuildServiceProvider();

    private IWorkloadScheduler Scheduler => _services.GetRequiredService<IWorkloadScheduler>();

    [Fact]
    public async Task Execute_DecoratedScheduler_TakesItsSeatThroughTheDecorator()
    {
        var decorated = new CountingScheduler(Scheduler);
        ResiliencePipeline pipeline = new ResiliencePipelineBuilder().AddWorkloadIsolation(decorated, "reporting").Build();

        await pipeline.ExecuteAsync(_ => ValueTask.CompletedTask).AsTask().WithTimeout();
        await pipeline.ExecuteAsync(_ => ValueTask.CompletedTask).AsTask().WithTimeout();

        Assert.Equal(2, decorated.Acquired);
        Assert.Equal(2, Scheduler.GetSnapshot()["reporting"].Admitted);
    }

    [Fact]
    public async Task Execute_RunsTheCallbackHoldingASeat()
    {
        ResiliencePipeline pipeline = new ResiliencePipelineBuilder().AddWorkloadIsolation(Scheduler, "reporting").Build();

        int inFlight = await pipeline.ExecuteAsync(_ => ValueTask.FromResult(Scheduler.GetSnapshot()["reporting"].InFlight)).AsTask().WithTimeout();

        Assert.Equal(1, inFlight);
        Assert.Equal(0, Scheduler.GetSnapshot()["reporting"].InFlight);
    }

    [Fact]
    public async Task Execute_Rejected_ThrowsWithReasonReportsTelemetryAndCallsOnRejected()
    {
        var events = new List<string>();
        OnWorkloadRejectedArguments? seen = null;
        var builder = new ResiliencePipelineBuilder { TelemetryListener = new Listener(events) };
        ResiliencePipeline pipeline = builder.AddWorkloadIsolation(Scheduler, new WorkloadIsolationStrategyOptions
        {
            WorkloadClass = "reporting",
            OnRejected = args => { seen = args; return ValueTask.CompletedTask; },
        }).Build();
        using WorkloadLease held = Scheduler.TryAcquire("reporting");
        bool ran = false;

        WorkloadRejectedException exception = await Assert.ThrowsAsync<WorkloadRejectedException>(
            () => pipeline.ExecuteAsync(_ => { ran = true; return ValueTask.CompletedTask; }).AsTask().WithTimeout());

        Assert.False(ran);
        Assert.Equal(("reporting", WorkloadRejectionReason.QueueFull), (exception.WorkloadClass, exception.Reason));
        Assert.Equal(WorkloadRejectionReason.QueueFull, seen?.Reason);
        Assert.Contains("OnWorkloadRejected", events);
    }

    [Fact]
    public async Task Execute_ClassWithDedicatedThreads_RunsTheCallbackOnThem()
    {
        ResiliencePipeline pipeline = new ResiliencePipelineBuilder().AddWorkloadIsolation(Scheduler, "batch").Build();

        string? thread = await pipeline.ExecuteAsync(_ => ValueTask.FromResult(Thread.CurrentThread.Name)).AsTask().WithTimeout();

        Assert.Equal("Bulkhead batch #1", thread);
    }

    [Fact]
    public async Task Execute_PartitionProvider_PassesThePartition()
    {
        string? partition = null;
        ResiliencePipeline pipeline = new ResiliencePipelineBuilder().AddWorkloadIsolation(Scheduler, new WorkloadIsolationStrategyOptions
        {
            WorkloadClass = "reporting",
            PartitionProvider = context => { partition = context.OperationKey; return context.OperationKey; },
        }).Build();
        ResilienceContext context = ResilienceContextPool.Shared.Get("tenant-7");

        await pipeline.ExecuteAsync(_ => ValueTask.CompletedTask, context).AsTask().WithTimeout();

        ResilienceContextPool.Shared.Return(context);
        Assert.Equal("tenant-7", partition);
    }

    [Fact]
    public void Build_NoWorkloadClass_FailsValidation()
    {
        var builder = new ResiliencePipelineBuilder();

        ValidationException exception = Assert.Throws<ValidationException>(() => builder.AddWorkloadIsolation(Scheduler, new WorkloadIsolationStrategyOptions()));

        Assert.Contains("WorkloadClass", exception.Message, StringComparison.Ordinal);
    }

    public void Dispose() => _services.Dispose();

    private sealed class Listener(List<string> events) : TelemetryListener
    {
        public override void Write<TResult, TArgs>(in TelemetryEventArguments<TResult, TArgs> args) => events.Add(args.Event.EventName);
    }
}
