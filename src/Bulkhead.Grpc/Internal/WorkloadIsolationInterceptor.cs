using System.Globalization;
using Bulkhead.AspNetCore;
using Bulkhead.Shared;
using Grpc.Core;
using Grpc.Core.Interceptors;
using Microsoft.AspNetCore.Http;

namespace Bulkhead.Grpc.Internal;

/// <summary>
/// Runs a gRPC call holding a seat of its class, through the class's public handle: the class its endpoint's metadata
/// names (the method's or its service's <c>[WorkloadClass]</c>), else the configured default. The call's deadline is
/// the request's deadline; a client that cancels while queued leaves the queue.
/// </summary>
internal sealed class WorkloadIsolationInterceptor(IWorkloadScheduler scheduler, WorkloadIsolationGrpcOptions options) : Interceptor
{
    // The trailer gRPC's retry policies read: how long to wait, in milliseconds; a negative value says not to retry.
    private const string PushbackTrailer = "grpc-retry-pushback-ms";

    private bool StreamsExempt => options.StreamingMode == WorkloadGrpcStreamingMode.Exempt;

    public override Task<TResponse> UnaryServerHandler<TRequest, TResponse>(TRequest request, ServerCallContext context, UnaryServerMethod<TRequest, TResponse> continuation) =>
        RunAsync(context, () => continuation(request, context));

    public override Task<TResponse> ClientStreamingServerHandler<TRequest, TResponse>(IAsyncStreamReader<TRequest> requestStream, ServerCallContext context, ClientStreamingServerMethod<TRequest, TResponse> continuation) =>
        StreamsExempt ? continuation(requestStream, context) : RunAsync(context, () => continuation(requestStream, context));

    public override Task ServerStreamingServerHandler<TRequest, TResponse>(TRequest request, IServerStreamWriter<TResponse> responseStream, ServerCallContext context, ServerStreamingServerMethod<TRequest, TResponse> continuation) =>
        StreamsExempt ? continuation(request, responseStream, context) : RunAsync(context, async () => { await continuation(request, responseStream, context).ConfigureAwait(false); return true; });

    public override Task DuplexStreamingServerHandler<TRequest, TResponse>(IAsyncStreamReader<TRequest> requestStream, IServerStreamWriter<TResponse> responseStream, ServerCallContext context, DuplexStreamingServerMethod<TRequest, TResponse> continuation) =>
        StreamsExempt ? continuation(requestStream, responseStream, context) : RunAsync(context, async () => { await continuation(requestStream, responseStream, context).ConfigureAwait(false); return true; });

    private async Task<TResponse> RunAsync<TResponse>(ServerCallContext context, Func<Task<TResponse>> call)
    {
        Endpoint? endpoint = context.GetHttpContext().GetEndpoint();
        if (endpoint?.Metadata.GetMetadata<IDisableWorkloadIsolationMetadata>() is not null)
        {
            return await call().ConfigureAwait(false);
        }

        string? name = endpoint?.Metadata.GetMetadata<IWorkloadClassMetadata>()?.WorkloadClass ?? options.DefaultClass;
        WorkloadClass workloadClass = name is not null && scheduler.TryGetClass(name, out WorkloadClass? found) ? found : scheduler.DefaultClass;
        var request = new WorkloadRequest(options.PartitionKey?.Invoke(context))
        {
            Deadline = context.Deadline == DateTime.MaxValue ? null : new DateTimeOffset(context.Deadline.ToUniversalTime(), TimeSpan.Zero),
        };
        WorkloadLease lease = await workloadClass.AcquireAsync(request, context.CancellationToken).ConfigureAwait(false);
        if (!lease.IsAcquired)
        {
            throw Refused(lease);
        }

        return await workloadClass.ExecuteAsync(lease, static (state, _) => ((Func<Task<TResponse>>)state!)(), call).ConfigureAwait(false);
    }

    /// <summary>
    /// A refusal as gRPC says it: <c>RESOURCE_EXHAUSTED</c> for a rate limit, <c>UNAVAILABLE</c> otherwise, and when to
    /// retry in <c>grpc-retry-pushback-ms</c> (the engine's estimate, else a second; -1, do not retry, when waiting cannot help).
    /// </summary>
    private static RpcException Refused(WorkloadLease lease)
    {
        WorkloadRejectionReason reason = lease.RejectionReason ?? WorkloadRejectionReason.QueueFull;
        bool retryable = HttpRefusal.IsRetryable(reason);
        long pushback = retryable ? (long)Math.Ceiling((lease.RetryAfter ?? TimeSpan.FromSeconds(1)).TotalMilliseconds) : -1;
        var trailers = new Metadata { { PushbackTrailer, pushback.ToString(CultureInfo.InvariantCulture) } };
        StatusCode code = reason == WorkloadRejectionReason.RateLimited ? StatusCode.ResourceExhausted : StatusCode.Unavailable;
        return new RpcException(new Status(code, $"Workload class '{lease.WorkloadClass}' refused the call: {reason}."), trailers);
    }
}
