using System.Globalization;
using Bulkhead.AspNetCore;
using Bulkhead.Shared;
using Grpc.Core;
using Grpc.Core.Interceptors;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Bulkhead.Grpc.Internal;

/// <summary>
/// Runs a gRPC call holding a seat of its class, through the class's public handle: the class its endpoint's metadata
/// names (the method's or its service's <c>[WorkloadClass]</c>), else the configured default. The call's deadline is
/// the request's deadline; a client that cancels while queued leaves the queue. Streaming calls follow
/// <see cref="WorkloadIsolationGrpcOptions.StreamingMode"/>.
/// </summary>
internal sealed partial class WorkloadIsolationInterceptor(IWorkloadScheduler scheduler, WorkloadIsolationGrpcOptions options, ILogger<WorkloadIsolationInterceptor> logger) : Interceptor
{
    // The trailer gRPC's retry policies read: how long to wait, in milliseconds; a negative value says not to retry.
    private const string PushbackTrailer = "grpc-retry-pushback-ms";

    private readonly NamedClasses _classes = new(scheduler, (name, defaultClass) => LogUnknownClass(logger, name, defaultClass));

    public override Task<TResponse> UnaryServerHandler<TRequest, TResponse>(TRequest request, ServerCallContext context, UnaryServerMethod<TRequest, TResponse> continuation) =>
        RunAsync(context, () => continuation(request, context));

    public override Task<TResponse> ClientStreamingServerHandler<TRequest, TResponse>(IAsyncStreamReader<TRequest> requestStream, ServerCallContext context, ClientStreamingServerMethod<TRequest, TResponse> continuation) =>
        options.StreamingMode switch
        {
            WorkloadGrpcStreamingMode.PerCall => RunAsync(context, () => continuation(requestStream, context)),
            WorkloadGrpcStreamingMode.PerMessage => RunPerMessageAsync(context, requestStream, messages => continuation(messages, context)),
            _ => continuation(requestStream, context),
        };

    public override Task ServerStreamingServerHandler<TRequest, TResponse>(TRequest request, IServerStreamWriter<TResponse> responseStream, ServerCallContext context, ServerStreamingServerMethod<TRequest, TResponse> continuation) =>
        options.StreamingMode == WorkloadGrpcStreamingMode.Exempt
            ? continuation(request, responseStream, context)
            : RunAsync(context, async () => { await continuation(request, responseStream, context).ConfigureAwait(false); return true; });

    public override Task DuplexStreamingServerHandler<TRequest, TResponse>(IAsyncStreamReader<TRequest> requestStream, IServerStreamWriter<TResponse> responseStream, ServerCallContext context, DuplexStreamingServerMethod<TRequest, TResponse> continuation) =>
        options.StreamingMode switch
        {
            WorkloadGrpcStreamingMode.PerCall => RunAsync(context, async () => { await continuation(requestStream, responseStream, context).ConfigureAwait(false); return true; }),
            WorkloadGrpcStreamingMode.PerMessage => RunPerMessageAsync(context, requestStream, async messages => { await continuation(messages, responseStream, context).ConfigureAwait(false); return true; }),
            _ => continuation(requestStream, responseStream, context),
        };

    /// <summary>
    /// A refusal as gRPC says it: <c>RESOURCE_EXHAUSTED</c> for a rate limit, <c>UNAVAILABLE</c> otherwise, and when to
    /// retry in <c>grpc-retry-pushback-ms</c> (the engine's estimate, else a second; -1, do not retry, when waiting cannot help).
    /// </summary>
    internal static RpcException Refused(WorkloadLease lease)
    {
        WorkloadRejectionReason reason = lease.RejectionReason ?? WorkloadRejectionReason.QueueFull;
        bool retryable = HttpRefusal.IsRetryable(reason);
        long pushback = retryable ? (long)Math.Ceiling((lease.RetryAfter ?? TimeSpan.FromSeconds(1)).TotalMilliseconds) : -1;
        var trailers = new Metadata { { PushbackTrailer, pushback.ToString(CultureInfo.InvariantCulture) } };
        StatusCode code = reason == WorkloadRejectionReason.RateLimited ? StatusCode.ResourceExhausted : StatusCode.Unavailable;
        return new RpcException(new Status(code, $"Workload class '{lease.WorkloadClass}' refused the call: {reason}."), trailers);
    }

    private async Task<TResponse> RunAsync<TResponse>(ServerCallContext context, Func<Task<TResponse>> call)
    {
        if (ClassOf(context) is not { } workloadClass)
        {
            return await call().ConfigureAwait(false);
        }

        WorkloadLease lease = await workloadClass.AcquireAsync(RequestOf(context), context.CancellationToken).ConfigureAwait(false);
        if (!lease.IsAcquired)
        {
            throw Refused(lease);
        }

        return await workloadClass.ExecuteAsync(lease, static (state, _) => ((Func<Task<TResponse>>)state!)(), call).ConfigureAwait(false);
    }

    /// <summary>
    /// A streaming call whose received messages each hold a seat while handled. It is admission only: the handler runs
    /// where gRPC runs it, not on the class's threads nor under its execution timeout.
    /// </summary>
    private async Task<TResponse> RunPerMessageAsync<TRequest, TResponse>(ServerCallContext context, IAsyncStreamReader<TRequest> requestStream, Func<IAsyncStreamReader<TRequest>, Task<TResponse>> call)
    {
        if (ClassOf(context) is not { } workloadClass)
        {
            return await call(requestStream).ConfigureAwait(false);
        }

        using var messages = new MessageSeats<TRequest>(requestStream, workloadClass, RequestOf(context));
        return await call(messages).ConfigureAwait(false);
    }

    /// <summary>The class a call runs in, or <see langword="null"/> when its endpoint is exempt (<c>[DisableWorkloadIsolation]</c>).</summary>
    private WorkloadClass? ClassOf(ServerCallContext context)
    {
        Endpoint? endpoint = context.GetHttpContext().GetEndpoint();
        if (endpoint?.Metadata.GetMetadata<IDisableWorkloadIsolationMetadata>() is not null)
        {
            return null;
        }

        return _classes.Resolve(endpoint?.Metadata.GetMetadata<IWorkloadClassMetadata>()?.WorkloadClass ?? options.DefaultClass);
    }

    private WorkloadRequest RequestOf(ServerCallContext context) => new(options.PartitionKey?.Invoke(context))
    {
        Deadline = context.Deadline == DateTime.MaxValue ? null : new DateTimeOffset(context.Deadline.ToUniversalTime(), TimeSpan.Zero),
    };

    [LoggerMessage(81, LogLevel.Warning, "Workload class '{WorkloadClass}' named on a gRPC method or service (or as the default class of gRPC calls) is not configured; its calls run in the default class '{DefaultClass}'.")]
    private static partial void LogUnknownClass(ILogger logger, string workloadClass, string defaultClass);
}
