using System.Collections.Concurrent;
using System.Globalization;
using System.Reflection;
using Bulkhead.AspNetCore;
using Bulkhead.Shared;
using Microsoft.AspNetCore.SignalR;
using Microsoft.Extensions.Logging;

namespace Bulkhead.SignalR.Internal;

/// <summary>
/// Runs each hub method invocation holding a seat of its class, through the class's public handle: the method's
/// <c>[WorkloadClass]</c>, else its hub's, else the configured default. What a method's attributes decide is looked up
/// once per method. An invocation whose caller disconnects while it waits leaves the queue.
/// </summary>
internal sealed partial class WorkloadIsolationHubFilter(IWorkloadScheduler scheduler, WorkloadIsolationHubOptions options, ILogger logger) : IHubFilter
{
    private readonly ConcurrentDictionary<MethodInfo, Route> _routes = new();
    private readonly NamedClasses _classes = new(scheduler, (name, defaultClass) => LogUnknownClass(logger, name, defaultClass));

    public async ValueTask<object?> InvokeMethodAsync(HubInvocationContext invocationContext, Func<HubInvocationContext, ValueTask<object?>> next)
    {
        Route route = _routes.GetOrAdd(invocationContext.HubMethod, static (method, hub) => RouteOf(method, hub), invocationContext.Hub.GetType());
        if (route.Exempt)
        {
            return await next(invocationContext).ConfigureAwait(false);
        }

        WorkloadClass workloadClass = _classes.Resolve(route.ClassName ?? options.DefaultClass);
        string? partition = options.PartitionKey?.Invoke(invocationContext);
        WorkloadLease lease = await workloadClass.AcquireAsync(new WorkloadRequest(partition), invocationContext.Context.ConnectionAborted).ConfigureAwait(false);
        if (!lease.IsAcquired)
        {
            throw Refused(lease);
        }

        return await workloadClass.ExecuteAsync(
            lease,
            static (state, _) =>
            {
                var (invoke, invocation) = ((Func<HubInvocationContext, ValueTask<object?>>, HubInvocationContext))state!;
                return invoke(invocation).AsTask();
            },
            (next, invocationContext)).ConfigureAwait(false);
    }

    /// <summary>What the caller is told: the reason and, when waiting can help, when to try again (the same whole seconds as <c>Retry-After</c>).</summary>
    private static HubException Refused(WorkloadLease lease)
    {
        WorkloadRejectionReason reason = lease.RejectionReason ?? WorkloadRejectionReason.QueueFull;
        return new HubException(HttpRefusal.IsRetryable(reason)
            ? string.Create(CultureInfo.InvariantCulture, $"The server is busy ({reason}); retry after {HttpRefusal.Seconds(lease.RetryAfter ?? TimeSpan.FromSeconds(1))} s.")
            : $"The server refused the call ({reason}); retrying cannot help.");
    }

    private static Route RouteOf(MethodInfo method, Type hub)
    {
        if (method.GetCustomAttribute<DisableWorkloadIsolationAttribute>() is not null || hub.GetCustomAttribute<DisableWorkloadIsolationAttribute>() is not null)
        {
            return new Route(null, Exempt: true);
        }

        return new Route((method.GetCustomAttribute<WorkloadClassAttribute>() ?? hub.GetCustomAttribute<WorkloadClassAttribute>())?.WorkloadClass, Exempt: false);
    }

    [LoggerMessage(80, LogLevel.Warning, "Workload class '{WorkloadClass}' named on a hub or hub method is not configured; its invocations run in the default class '{DefaultClass}'.")]
    private static partial void LogUnknownClass(ILogger logger, string workloadClass, string defaultClass);

    private sealed record Route(string? ClassName, bool Exempt);
}
