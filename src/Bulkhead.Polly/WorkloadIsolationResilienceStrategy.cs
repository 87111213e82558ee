using Bulkhead.Admission.Internal;
using Polly;
using Polly.Telemetry;

namespace Bulkhead.Polly;

/// <summary>Holds a seat of the class around the callback; a rejection becomes a <see cref="WorkloadRejectedException"/> outcome.</summary>
internal sealed class WorkloadIsolationResilienceStrategy(
    IWorkloadScheduler scheduler,
    WorkloadIsolationStrategyOptions options,
    ResilienceStrategyTelemetry telemetry) : ResilienceStrategy
{
    private static readonly ResilienceEvent s_rejected = new(ResilienceEventSeverity.Error, "OnWorkloadRejected");

    private readonly string _workloadClass = options.WorkloadClass!;

    protected override async ValueTask<Outcome<TResult>> ExecuteCore<TResult, TState>(
        Func<ResilienceContext, TState, ValueTask<Outcome<TResult>>> callback,
        ResilienceContext context,
        TState state)
    {
        WorkloadLease lease;
        try
        {
            lease = await scheduler.AcquireAsync(_workloadClass, options.PartitionProvider?.Invoke(context), context.CancellationToken)
                .ConfigureAwait(context.ContinueOnCapturedContext);
        }
        catch (OperationCanceledException exception)
        {
            return Outcome.FromException<TResult>(exception);
        }

        if (!lease.IsAcquired)
        {
            var arguments = new OnWorkloadRejectedArguments(context, lease.WorkloadClass, lease.RejectionReason!.Value, lease.RetryAfter);
            telemetry.Report(s_rejected, context, arguments);
            if (options.OnRejected is { } onRejected)
            {
                await onRejected(arguments).ConfigureAwait(context.ContinueOnCapturedContext);
            }

            return Outcome.FromException<TResult>(new WorkloadRejectedException(lease.WorkloadClass, arguments.Reason, arguments.RetryAfter));
        }

        using (lease)
        {
            // A class with dedicated threads runs the callback on them.
            if (scheduler is WorkloadScheduler engine && engine.Resolve(_workloadClass) is { Scheduler: not null } workloadClass)
            {
                return await workloadClass.Start(() => callback(context, state).AsTask())
                    .ConfigureAwait(context.ContinueOnCapturedContext);
            }

            return await callback(context, state).ConfigureAwait(context.ContinueOnCapturedContext);
        }
    }
}
