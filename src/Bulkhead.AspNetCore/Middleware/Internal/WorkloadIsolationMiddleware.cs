using Bulkhead.Admission.Internal;
using Bulkhead.AspNetCore.Classification.Internal;
using Bulkhead.AspNetCore.Rejection.Internal;
using Microsoft.AspNetCore.Http;

namespace Bulkhead.AspNetCore.Middleware.Internal;

/// <summary>
/// Runs the rest of the pipeline holding a seat of the request's workload class.
/// </summary>
/// <remarks>
/// When a seat is free and the pipeline completes synchronously, this adds no allocation and no await: the seat is
/// taken without a lock and freed before returning. A client that leaves while queued frees its place at once and gets
/// no response.
/// </remarks>
internal sealed class WorkloadIsolationMiddleware(
    RequestDelegate next,
    WorkloadScheduler scheduler,
    RequestClassifier classifier,
    RejectionWriter rejections)
{
    public Task InvokeAsync(HttpContext context)
    {
        Endpoint? endpoint = context.GetEndpoint();
        if (endpoint?.Metadata.GetMetadata<IDisableWorkloadIsolationMetadata>() is not null)
        {
            Interlocked.Increment(ref scheduler.Exempt);
            return next(context);
        }

        ClassState workloadClass = classifier.Classify(context, endpoint);
        ValueTask<WorkloadLease> acquiring = scheduler.Engine.AcquireAsync(workloadClass, classifier.GetPartition(context), context.RequestAborted);
        if (!acquiring.IsCompletedSuccessfully)
        {
            return WaitForSeatAsync(context, acquiring, workloadClass);
        }

        WorkloadLease lease = acquiring.Result;
        return lease.IsAcquired ? RunHoldingSeat(context, lease, workloadClass) : rejections.WriteAsync(context, lease);
    }

    private Task RunHoldingSeat(HttpContext context, WorkloadLease lease, ClassState workloadClass)
    {
        Task pipeline;
        try
        {
            // A class with dedicated threads runs the rest of the pipeline on them: its awaits stay there too.
            pipeline = workloadClass.Scheduler is null ? next(context) : workloadClass.Start(() => next(context));
        }
        catch
        {
            lease.Dispose();
            throw;
        }

        if (pipeline.IsCompletedSuccessfully)
        {
            lease.Dispose();
            return pipeline;
        }

        return ReleaseWhenDoneAsync(pipeline, lease);
    }

    private static async Task ReleaseWhenDoneAsync(Task pipeline, WorkloadLease lease)
    {
        try
        {
            await pipeline.ConfigureAwait(false);
        }
        finally
        {
            lease.Dispose();
        }
    }

    private async Task WaitForSeatAsync(HttpContext context, ValueTask<WorkloadLease> acquiring, ClassState workloadClass)
    {
        WorkloadLease lease;
        try
        {
            lease = await acquiring.ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
            // The client left while queued: its place is already free, and there is no one to answer.
            return;
        }

        if (lease.IsAcquired)
        {
            await RunHoldingSeat(context, lease, workloadClass).ConfigureAwait(false);
        }
        else
        {
            await rejections.WriteAsync(context, lease).ConfigureAwait(false);
        }
    }
}
