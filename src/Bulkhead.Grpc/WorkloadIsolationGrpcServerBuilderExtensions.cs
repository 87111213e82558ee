using Bulkhead;
using Bulkhead.Grpc;
using Bulkhead.Grpc.Internal;
using Grpc.AspNetCore.Server;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Runs gRPC calls under Bulkhead workload classes.</summary>
public static class WorkloadIsolationGrpcServerBuilderExtensions
{
    /// <summary>
    /// Makes each unary call (and, with <see cref="WorkloadGrpcStreamingMode.PerCall"/>, each streaming call; with
    /// <see cref="WorkloadGrpcStreamingMode.PerMessage"/>, each message a stream receives) wait for a seat of its workload class (the method's <c>[WorkloadClass]</c>, else its service's, else
    /// <see cref="WorkloadIsolationGrpcOptions.DefaultClass"/>) and hold it until the call ends. The call's gRPC deadline
    /// is its deadline: it leaves the queue when it passes. A refused call ends with <c>RESOURCE_EXHAUSTED</c> (a rate
    /// limit) or <c>UNAVAILABLE</c>, and a <c>grpc-retry-pushback-ms</c> trailer that gRPC clients' retry policies honour.
    /// </summary>
    /// <param name="builder">The gRPC builder, from <c>AddGrpc</c>.</param>
    /// <param name="configure">Sets the default class, the partition of a call and what streaming calls do.</param>
    /// <returns>The builder, for chaining.</returns>
    /// <remarks>
    /// Use it instead of <c>UseWorkloadIsolation</c> for gRPC endpoints (mark them <c>[DisableWorkloadIsolation]</c> for the
    /// middleware, or map them where it does not run), so that a call takes one seat, not two.
    /// </remarks>
    /// <exception cref="ArgumentException">The streaming mode is not one of the enum's values.</exception>
    public static IGrpcServerBuilder AddWorkloadIsolation(this IGrpcServerBuilder builder, Action<WorkloadIsolationGrpcOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);

        var options = new WorkloadIsolationGrpcOptions();
        configure?.Invoke(options);
        if (!Enum.IsDefined(options.StreamingMode))
        {
            throw new ArgumentException($"AddWorkloadIsolation: StreamingMode {(int)options.StreamingMode} is not one of Exempt, PerCall, PerMessage.", nameof(configure));
        }

        builder.Services.AddSingleton(services => new WorkloadIsolationInterceptor(
            services.GetRequiredService<IWorkloadScheduler>(), options, services.GetRequiredService<Microsoft.Extensions.Logging.ILogger<WorkloadIsolationInterceptor>>()));
        builder.Services.Configure<GrpcServiceOptions>(grpc => grpc.Interceptors.Add<WorkloadIsolationInterceptor>());
        return builder;
    }
}
