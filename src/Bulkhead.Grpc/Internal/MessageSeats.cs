using Grpc.Core;

namespace Bulkhead.Grpc.Internal;

/// <summary>
/// The seat of the message a streaming call is handling (<see cref="WorkloadGrpcStreamingMode.PerMessage"/>): given
/// back when the handler asks for the next message, taken again once that message has arrived, so that a call waiting
/// for its client holds none. A refusal ends the call as a refused unary call ends.
/// </summary>
internal sealed class MessageSeats<TRequest>(IAsyncStreamReader<TRequest> messages, WorkloadClass workloadClass, WorkloadRequest request) : IAsyncStreamReader<TRequest>, IDisposable
{
    private WorkloadLease _lease;

    public TRequest Current => messages.Current;

    public async Task<bool> MoveNext(CancellationToken cancellationToken)
    {
        Dispose();
        if (!await messages.MoveNext(cancellationToken).ConfigureAwait(false))
        {
            return false;
        }

        WorkloadLease lease = await workloadClass.AcquireAsync(request, cancellationToken).ConfigureAwait(false);
        _lease = lease.IsAcquired ? lease : throw WorkloadIsolationInterceptor.Refused(lease);
        return true;
    }

    /// <summary>Gives back the seat of the message being handled, if any.</summary>
    public void Dispose()
    {
        WorkloadLease lease = _lease;
        _lease = default;
        lease.Dispose();
    }
}
