using System.Collections.Concurrent;
using Bulkhead.Jobs.Internal;
using Bulkhead.Shared;
using System.Reflection;
using Microsoft.Extensions.Logging;
using Quartz;

namespace Bulkhead.Quartz.Internal;

/// <summary>
/// Runs each firing of a Quartz scheduler holding a seat of its job's class. A firing waits for its seat as background
/// work (the class's priority and turns, no queue timeout, never turned away for a newcomer), so that a class whose
/// seats are all busy holds its jobs back instead of failing them; it runs where the class runs work (its dedicated
/// threads, its execution timeout) with the class as <see cref="WorkloadContext.Current"/>, and frees the seat when it ends.
/// </summary>
/// <remarks>
/// A rate limit or a fleet-wide cap (Bulkhead.Redis) refuses rather than queues: the firing waits the time the limit
/// gives, then asks again, for as long as it takes.
/// </remarks>
internal sealed partial class WorkloadIsolationJobMiddleware(IWorkloadScheduler scheduler, WorkloadIsolationQuartzOptions options, TimeProvider time, ILogger logger) : IJobExecutionMiddleware
{
    private readonly ConcurrentDictionary<Type, string?> _byType = new();
    private readonly NamedClasses _classes = new(scheduler, (name, defaultClass) => LogUnknownClass(logger, name, defaultClass));

    public async ValueTask Invoke(IJobExecutionContext context, JobExecutionDelegate next, CancellationToken cancellationToken)
    {
        WorkloadClass workloadClass = ClassOf(context.JobDetail);
        // As the core's background work waits: refusals that waiting can end (a rate limit, a fleet cap) are asked again.
        WorkloadLease lease = await SeatWaiter.WaitAsync(workloadClass, new WorkloadRequest(options.PartitionKey?.Invoke(context)), time, onRetry: null, cancellationToken).ConfigureAwait(false);
        cancellationToken.ThrowIfCancellationRequested();
        if (!lease.IsAcquired)
        {
            // Waiting cannot help (shutting down, a unit wider than the class): the firing fails, and is not refired at once.
            throw new JobExecutionException(new WorkloadRejectedException(lease.WorkloadClass ?? workloadClass.Name, lease.RejectionReason ?? WorkloadRejectionReason.ShuttingDown, lease.RetryAfter));
        }

        await workloadClass.ExecuteAsync(
            lease,
            static (state, token) =>
            {
                (JobExecutionDelegate next, IJobExecutionContext context, string name) = ((JobExecutionDelegate, IJobExecutionContext, string))state!;
                WorkloadContext.Current = new WorkloadContext(name);
                return next(context, token).AsTask();
            },
            (next, context, lease.WorkloadClass),
            cancellationToken).ConfigureAwait(false);
    }

    private WorkloadClass ClassOf(IJobDetail job)
    {
        string? name = options.ClassesByJob.TryGetValue(job.Key.ToString(), out string? byKey) ? byKey
            : AttributeOf(job.JobType.Type) ?? (options.ClassesByGroup.TryGetValue(job.Key.Group, out string? byGroup) ? byGroup : options.DefaultClass);
        return _classes.Resolve(name);
    }

    private string? AttributeOf(Type jobType) =>
        _byType.GetOrAdd(jobType, static type => type.GetCustomAttribute<WorkloadClassAttribute>()?.WorkloadClass);

    [LoggerMessage(82, LogLevel.Warning, "Workload class '{WorkloadClass}' named for a Quartz job is not configured; its firings run in the default class '{DefaultClass}'.")]
    private static partial void LogUnknownClass(ILogger logger, string workloadClass, string defaultClass);
}
