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

    private WorkloadClass? _workloadClass;

    protected override async ValueTask<Outcome<TResult>> ExecuteCore<TResult, TState>(
        Func<ResilienceContext, TState, ValueTask<Outcome<TResult>>> callback,
        ResilienceContext context,
        TState state)
    {
        WorkloadLease lease;
        try
        {
            _workloadClass ??= scheduler.GetClass(options.WorkloadClass!);
            lease = await _workloadClass.AcquireAsync(options.PartitionProvider?.Invoke(context), context.CancellationToken)
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

        // The one place work holding a seat starts: the class's threads, its execution timeout, the seat freed when
        // the callback ends. A context's token cannot be replaced from outside Polly, so the execution timeout counts
        // an overrunning callback without canceling it: Polly's own timeout strategy, after this one, does that.
        WorkloadClass workloadClass = _workloadClass ??= scheduler.GetClass(options.WorkloadClass!);
        return await workloadClass.ExecuteAsync(lease, static (s, _) => ((Execution<TResult, TState>)s!).RunAsync(), new Execution<TResult, TState>(callback, context, state), context.CancellationToken)
            .ConfigureAwait(context.ContinueOnCapturedContext);
    }

    private sealed class Execution<TResult, TState>(
        Func<ResilienceContext, TState, ValueTask<Outcome<TResult>>> callback,
        ResilienceContext context,
        TState state)
    {
        public Task<Outcome<TResult>> RunAsync() => callback(context, state).AsTask();
    }
}
