using System.Globalization;
using System.Net.Http.Headers;
using Bulkhead.Shared;

namespace Bulkhead.Http.Internal;

/// <summary>
/// Holds a seat of its class around each outgoing call: the call is sent once a seat is granted, where the class runs
/// its work and under its execution timeout, and the seat is freed when the response (or the failure) arrives. A
/// refused call never reaches the network.
/// </summary>
/// <remarks>
/// The class's handle is looked up when the handler is made, so that a name that is not a class fails there.
/// </remarks>
internal sealed class WorkloadIsolationHandler : DelegatingHandler
{
    private readonly WorkloadClass _workloadClass;
    private readonly WorkloadIsolationHttpClientOptions _options;

    // Made once: the rest of the chain, given the request as state, so that a call admitted at once allocates nothing.
    private readonly Func<object?, CancellationToken, Task<HttpResponseMessage>> _send;

    public WorkloadIsolationHandler(WorkloadClass workloadClass, WorkloadIsolationHttpClientOptions options)
    {
        _workloadClass = workloadClass;
        _options = options;
        _send = (request, token) => base.SendAsync((HttpRequestMessage)request!, token);
    }

    protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        ValueTask<WorkloadLease> acquiring = _workloadClass.AcquireAsync(Request(request), cancellationToken);
        if (!acquiring.IsCompletedSuccessfully)
        {
            return SendWhenSeatedAsync(request, acquiring, cancellationToken);
        }

        // The class's execution timeout, when it has one, cancels the call through the token the work is given.
        WorkloadLease lease = acquiring.Result;
        return lease.IsAcquired
            ? _workloadClass.ExecuteAsync(lease, _send, request, cancellationToken)
            : Task.FromResult(Refuse(request, lease));
    }

    private async Task<HttpResponseMessage> SendWhenSeatedAsync(HttpRequestMessage request, ValueTask<WorkloadLease> acquiring, CancellationToken cancellationToken)
    {
        WorkloadLease lease = await acquiring.ConfigureAwait(false);
        return lease.IsAcquired
            ? await _workloadClass.ExecuteAsync(lease, _send, request, cancellationToken).ConfigureAwait(false)
            : Refuse(request, lease);
    }

    /// <summary>
    /// A synchronous call (<c>HttpClient.Send</c>) waits for its seat on the calling thread and is sent there: the
    /// class's threads and execution timeout are for asynchronous calls only.
    /// </summary>
    protected override HttpResponseMessage Send(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        using WorkloadLease lease = _workloadClass.AcquireAsync(Request(request), cancellationToken).AsTask().GetAwaiter().GetResult();
        return lease.IsAcquired ? base.Send(request, cancellationToken) : Refuse(request, lease);
    }

    private WorkloadRequest Request(HttpRequestMessage request) => new(_options.PartitionProvider?.Invoke(request));

    private HttpResponseMessage Refuse(HttpRequestMessage request, WorkloadLease lease)
    {
        WorkloadRejectionReason reason = lease.RejectionReason ?? WorkloadRejectionReason.QueueFull;
        if (_options.RejectionMode == WorkloadHttpRejectionMode.Throw)
        {
            throw new WorkloadRejectedException(lease.WorkloadClass, reason, lease.RetryAfter);
        }

        var response = new HttpResponseMessage(HttpRefusal.Status(reason))
        {
            RequestMessage = request,
            ReasonPhrase = string.Create(CultureInfo.InvariantCulture, $"Workload class '{lease.WorkloadClass}' refused the call: {reason}"),
            Content = new ByteArrayContent([]),
        };

        // As the middleware answers: one second when the engine has no better estimate; none when waiting cannot help.
        if (HttpRefusal.IsRetryable(reason))
        {
            response.Headers.RetryAfter = new RetryConditionHeaderValue(TimeSpan.FromSeconds(HttpRefusal.Seconds(lease.RetryAfter ?? TimeSpan.FromSeconds(1))));
        }

        return response;
    }
}
