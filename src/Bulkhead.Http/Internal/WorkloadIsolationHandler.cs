using System.Diagnostics.Metrics;
using System.Globalization;
using System.Net;
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
    private readonly Dictionary<string, WorkloadClass>? _byCaller;
    private readonly WorkloadIsolationHttpClientOptions _options;
    private readonly AdaptiveThrottle? _throttle;
    private readonly Counter<long>? _throttled;

    // Made once: the rest of the chain, given the request as state, so that a call admitted at once allocates nothing.
    // With adaptive throttling, the call is counted as sent, and as accepted unless the dependency refuses it.
    private readonly Func<object?, CancellationToken, Task<HttpResponseMessage>> _send;

    public WorkloadIsolationHandler(WorkloadClass workloadClass, WorkloadIsolationHttpClientOptions options, AdaptiveThrottle? throttle = null, Counter<long>? throttled = null, Dictionary<string, WorkloadClass>? byCaller = null)
    {
        _workloadClass = workloadClass;
        _byCaller = byCaller;
        _options = options;
        _throttle = throttle;
        _throttled = throttled;
        _send = throttle is null ? (request, token) => base.SendAsync((HttpRequestMessage)request!, token) : SendCountedAsync;
    }

    private async Task<HttpResponseMessage> SendCountedAsync(object? request, CancellationToken cancellationToken)
    {
        _throttle!.Sent();
        HttpResponseMessage response = await base.SendAsync((HttpRequestMessage)request!, cancellationToken).ConfigureAwait(false);
        CountAnswer(response);
        return response;
    }

    private void CountAnswer(HttpResponseMessage response)
    {
        if (response.StatusCode is not (HttpStatusCode.TooManyRequests or HttpStatusCode.ServiceUnavailable))
        {
            _throttle!.Accepted();
        }
    }

    protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        if (_throttle is not null && !_throttle.TryAdmit())
        {
            return Task.FromResult(Throttled(request));
        }

        WorkloadClass workloadClass = ClassOfCall();
        ValueTask<WorkloadLease> acquiring = workloadClass.AcquireAsync(Request(request), cancellationToken);
        if (!acquiring.IsCompletedSuccessfully)
        {
            return SendWhenSeatedAsync(workloadClass, request, acquiring, cancellationToken);
        }

        // The class's execution timeout, when it has one, cancels the call through the token the work is given.
        WorkloadLease lease = acquiring.Result;
        return lease.IsAcquired
            ? workloadClass.ExecuteAsync(lease, _send, request, cancellationToken)
            : Task.FromResult(Refuse(request, lease.WorkloadClass, lease.RejectionReason ?? WorkloadRejectionReason.QueueFull, lease.RetryAfter));
    }

    private async Task<HttpResponseMessage> SendWhenSeatedAsync(WorkloadClass workloadClass, HttpRequestMessage request, ValueTask<WorkloadLease> acquiring, CancellationToken cancellationToken)
    {
        WorkloadLease lease = await acquiring.ConfigureAwait(false);
        return lease.IsAcquired
            ? await workloadClass.ExecuteAsync(lease, _send, request, cancellationToken).ConfigureAwait(false)
            : Refuse(request, lease.WorkloadClass, lease.RejectionReason ?? WorkloadRejectionReason.QueueFull, lease.RetryAfter);
    }

    /// <summary>
    /// A synchronous call (<c>HttpClient.Send</c>) waits for its seat on the calling thread and is sent there: the
    /// class's threads and execution timeout are for asynchronous calls only.
    /// </summary>
    protected override HttpResponseMessage Send(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        if (_throttle is not null && !_throttle.TryAdmit())
        {
            return Throttled(request);
        }

        using WorkloadLease lease = ClassOfCall().AcquireAsync(Request(request), cancellationToken).AsTask().GetAwaiter().GetResult();
        if (!lease.IsAcquired)
        {
            return Refuse(request, lease.WorkloadClass, lease.RejectionReason ?? WorkloadRejectionReason.QueueFull, lease.RetryAfter);
        }

        _throttle?.Sent();
        HttpResponseMessage response = base.Send(request, cancellationToken);
        if (_throttle is not null)
        {
            CountAnswer(response);
        }

        return response;
    }

    /// <summary>A call adaptive throttling refuses before it takes a seat: answered as the class's rate limit would be.</summary>
    private HttpResponseMessage Throttled(HttpRequestMessage request)
    {
        _throttled?.Add(1, new KeyValuePair<string, object?>("bulkhead.workload_class", _workloadClass.Name));
        return Refuse(request, _workloadClass.Name, WorkloadRejectionReason.RateLimited, retryAfter: null);
    }

    /// <summary>The class a call takes its seat in: by the class of the work making it, when that is mapped; else the client's.</summary>
    private WorkloadClass ClassOfCall() =>
        _byCaller is not null && WorkloadContext.Current is { } work && _byCaller.TryGetValue(work.WorkloadClass, out WorkloadClass? mapped) ? mapped : _workloadClass;

    private WorkloadRequest Request(HttpRequestMessage request) => new(_options.PartitionProvider?.Invoke(request));

    private HttpResponseMessage Refuse(HttpRequestMessage request, string workloadClass, WorkloadRejectionReason reason, TimeSpan? retryAfter)
    {
        if (_options.RejectionMode == WorkloadHttpRejectionMode.Throw)
        {
            throw new WorkloadRejectedException(workloadClass, reason, retryAfter);
        }

        var response = new HttpResponseMessage(HttpRefusal.Status(reason))
        {
            RequestMessage = request,
            ReasonPhrase = string.Create(CultureInfo.InvariantCulture, $"Workload class '{workloadClass}' refused the call: {reason}"),
            Content = new ByteArrayContent([]),
        };

        // As the middleware answers: one second when the engine has no better estimate; none when waiting cannot help.
        if (HttpRefusal.IsRetryable(reason))
        {
            response.Headers.RetryAfter = new RetryConditionHeaderValue(TimeSpan.FromSeconds(HttpRefusal.Seconds(retryAfter ?? TimeSpan.FromSeconds(1))));
        }

        return response;
    }
}
