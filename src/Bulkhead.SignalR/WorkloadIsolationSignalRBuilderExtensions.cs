using Bulkhead.SignalR;
using Bulkhead.SignalR.Internal;
using Microsoft.AspNetCore.SignalR;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Runs SignalR hub method invocations under Bulkhead workload classes.</summary>
public static class WorkloadIsolationSignalRBuilderExtensions
{
    /// <summary>
    /// Makes each hub method invocation wait for a seat of its workload class (the method's <c>[WorkloadClass]</c>, else
    /// its hub's, else <see cref="WorkloadIsolationHubOptions.DefaultClass"/>) and hold it while the method runs; a
    /// refused invocation fails with a <see cref="HubException"/> that says when to retry. Methods and hubs marked
    /// <c>[DisableWorkloadIsolation]</c> are exempt, and so are connecting and disconnecting: a connection holds no seat.
    /// </summary>
    /// <param name="builder">The SignalR builder, from <c>AddSignalR</c>.</param>
    /// <param name="configure">Sets the default class and the partition of an invocation.</param>
    /// <returns>The builder, for chaining.</returns>
    /// <remarks>
    /// A streaming method (one that returns an <c>IAsyncEnumerable</c> or a <c>ChannelReader</c>) holds its seat while
    /// it starts the stream, not while the stream runs. <c>AddWorkloadIsolation</c> on the services must be called too.
    /// </remarks>
    public static ISignalRServerBuilder AddWorkloadIsolation(this ISignalRServerBuilder builder, Action<WorkloadIsolationHubOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);

        var options = new WorkloadIsolationHubOptions();
        configure?.Invoke(options);
        builder.Services.AddSingleton(services => new WorkloadIsolationHubFilter(
            services.GetRequiredService<Bulkhead.IWorkloadScheduler>(),
            options,
            services.GetService<ILoggerFactory>()?.CreateLogger("Bulkhead.SignalR.WorkloadIsolationHubFilter") ?? NullLogger.Instance));
        builder.Services.Configure<HubOptions>(hub => hub.AddFilter<WorkloadIsolationHubFilter>());
        return builder;
    }
}
