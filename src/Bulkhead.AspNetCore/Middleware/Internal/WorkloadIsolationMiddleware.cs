using System.Diagnostics;
using Bulkhead.AspNetCore.Classification.Internal;
using Bulkhead.AspNetCore.Propagation.Internal;
using Bulkhead.AspNetCore.Rejection.Internal;
using Microsoft.AspNetCore.Http;
using Bulkhead.Telemetry.Internal;

namespace Bulkhead.AspNetCore.Middleware.Internal;

/// <summary>
/// Runs the rest of the pipeline holding a seat of the request's workload class, through the class's public handle.
/// </summary>
/// <remarks>
/// When a seat is free and the pipeline completes synchronously, this adds no allocation and no await: the seat is
/// taken without a lock and freed before returning. A client that leaves while queued frees its place at once and gets
/// no response. Under a class's execution timeout, <see cref="HttpContext.RequestAborted"/> is a token linked to the
/// client's that also fires when the timeout passes.
/// </remarks>
internal sealed class WorkloadIsolationMiddleware
{
    private readonly RequestDelegate _next;
    private readonly RequestClassifier _classifier;
    private readonly RejectionWriter _rejections;
    private readonly FrontEndCounters _counters;
    private readonly string? _classHeader;
    private readonly bool _partitionInActivity;
    private readonly bool _rateLimitHeaders;
    private readonly IncomingPropagation? _propagation;

    // Made once: the rest of the pipeline, given the request as state, so that running it allocates nothing.
    private readonly Func<object?, CancellationToken, Task> _runPipeline;

    public WorkloadIsolationMiddleware(RequestDelegate next, RequestClassifier classifier, RejectionWriter rejections, FrontEndCounters counters, string? classHeader = null, bool partitionInActivity = false, bool rateLimitHeaders = false, IncomingPropagation? propagation = null)
    {
        _propagation = propagation;
        _classHeader = classHeader;
        _partitionInActivity = partitionInActivity;
        _rateLimitHeaders = rateLimitHeaders;
        _next = next;
        _classifier = classifier;
        _rejections = rejections;
        _counters = counters;
        _runPipeline = RunPipeline;
    }

    public Task InvokeAsync(HttpContext context)
    {
        WorkloadClass? workloadClass = _classifier.Classify(context, context.GetEndpoint(), out int weight, out string? costKey);

        // The request's span, when someone records it, says what Bulkhead decided: nothing is paid otherwise.
        Activity? activity = Activity.Current is { IsAllDataRequested: true } current ? current : null;
        if (workloadClass is null)
        {
            _counters.CountExempt();
            activity?.SetTag(ActivityTags.Result, "exempt");
            return RunPipeline(context, CancellationToken.None);
        }

        if (_propagation is not null)
        {
            return AdmitPropagatedAsync(context, workloadClass, weight, costKey, activity);
        }

        return Admit(context, workloadClass, weight, costKey, deadline: null, activity);
    }

    /// <summary>
    /// With propagation on: the class and deadline a trusted caller carries, and the request's own unit of work made
    /// current (<see cref="WorkloadContext.Current"/>) for the code it runs, and only for that code.
    /// </summary>
    private Task AdmitPropagatedAsync(HttpContext context, WorkloadClass classified, int weight, string? costKey, Activity? activity)
    {
        WorkloadClass workloadClass = _propagation!.Read(context, classified, out DateTimeOffset? deadline);
        WorkloadContext? previous = WorkloadContext.Current;
        WorkloadContext.Current = _propagation.ContextFor(workloadClass, deadline);
        try
        {
            // Work the caller's class names learns no cost of this endpoint's: it is weighed as one seat, unless the endpoint sets a weight.
            return Admit(context, workloadClass, weight, ReferenceEquals(workloadClass, classified) ? costKey : null, deadline, activity);
        }
        finally
        {
            WorkloadContext.Current = previous;
        }
    }

    private Task Admit(HttpContext context, WorkloadClass workloadClass, int weight, string? costKey, DateTimeOffset? deadline, Activity? activity)
    {
        if (_classHeader is not null)
        {
            context.Response.Headers[_classHeader] = workloadClass.Name;
        }

        string? partition = _classifier.GetPartition(context);
        if (activity is not null)
        {
            activity.SetTag(ActivityTags.WorkloadClass, workloadClass.Name);
            if (_partitionInActivity && partition is not null)
            {
                activity.SetTag(ActivityTags.Partition, partition);
            }
        }

        CancellationToken aborted = context.RequestAborted;
        // An endpoint's own weight wins over learning its cost.
        ValueTask<WorkloadLease> acquiring = workloadClass.AcquireAsync(
            weight == 1 ? new WorkloadRequest(partition) { CostKey = costKey, Deadline = deadline } : new WorkloadRequest(partition) { Weight = weight, Deadline = deadline },
            aborted);
        if (!acquiring.IsCompletedSuccessfully)
        {
            return WaitForSeatAsync(context, acquiring, workloadClass, activity, partition);
        }

        WorkloadLease lease = acquiring.Result;
        if (_rateLimitHeaders)
        {
            RateLimitHeaders.Write(context, workloadClass, partition);
        }

        if (activity is not null)
        {
            ActivityTags.Decided(activity, lease, waited: TimeSpan.Zero);
        }

        // The pipeline keeps the client's token; the work's token is only the execution timeout's (none when the class has none).
        return lease.IsAcquired ? workloadClass.ExecuteAsync(lease, _runPipeline, context, CancellationToken.None) : _rejections.WriteAsync(context, lease);
    }

    /// <summary>
    /// The rest of the pipeline, with a <see cref="WorkloadRejectedException"/> it throws (a nested <c>RunAsync</c>, a
    /// job queue that rejects, the Polly strategy) answered as the middleware's own rejections are, not as a 500.
    /// </summary>
    private Task RunPipeline(object? state, CancellationToken executionTimeout)
    {
        var context = (HttpContext)state!;
        if (executionTimeout.CanBeCanceled)
        {
            return RunWithTimeoutAsync(context, executionTimeout);
        }

        Task pipeline;
        try
        {
            pipeline = _next(context);
        }
        catch (WorkloadRejectedException rejected) when (!context.Response.HasStarted)
        {
            return AnswerAsync(context, rejected);
        }

        return pipeline.IsCompletedSuccessfully ? pipeline : AwaitAndAnswerAsync(context, pipeline);
    }

    private async Task AwaitAndAnswerAsync(HttpContext context, Task pipeline)
    {
        try
        {
            await pipeline.ConfigureAwait(false);
        }
        catch (WorkloadRejectedException rejected) when (!context.Response.HasStarted)
        {
            await AnswerAsync(context, rejected).ConfigureAwait(false);
        }
    }

    private Task AnswerAsync(HttpContext context, WorkloadRejectedException rejected) =>
        _rejections.WriteAsync(context, rejected.WorkloadClass, rejected.Reason, rejected.RetryAfter);

    private async Task RunWithTimeoutAsync(HttpContext context, CancellationToken executionTimeout)
    {
        // As ASP.NET Core's request timeouts do: the rest of the pipeline sees a token that fires when the client leaves
        // or the execution timeout passes, and the original after.
        CancellationToken original = context.RequestAborted;
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(original, executionTimeout);
        context.RequestAborted = linked.Token;
        try
        {
            await _next(context).ConfigureAwait(false);
        }
        catch (WorkloadRejectedException rejected) when (!context.Response.HasStarted)
        {
            await AnswerAsync(context, rejected).ConfigureAwait(false);
        }
        finally
        {
            context.RequestAborted = original;
        }
    }

    private async Task WaitForSeatAsync(HttpContext context, ValueTask<WorkloadLease> acquiring, WorkloadClass workloadClass, Activity? activity, string? partition)
    {
        long queued = activity is null ? 0 : Stopwatch.GetTimestamp();
        WorkloadLease lease;
        try
        {
            lease = await acquiring.ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
            // The client left while queued: its place is already free, and there is no one to answer.
            activity?.SetTag(ActivityTags.Result, "canceled");
            activity?.SetTag(ActivityTags.QueueDuration, Stopwatch.GetElapsedTime(queued).TotalSeconds);
            return;
        }

        if (activity is not null)
        {
            ActivityTags.Decided(activity, lease, Stopwatch.GetElapsedTime(queued));
        }

        if (_rateLimitHeaders)
        {
            RateLimitHeaders.Write(context, workloadClass, partition);
        }

        if (lease.IsAcquired)
        {
            await workloadClass.ExecuteAsync(lease, _runPipeline, context, CancellationToken.None).ConfigureAwait(false);
        }
        else
        {
            await _rejections.WriteAsync(context, lease).ConfigureAwait(false);
        }
    }
}
