namespace Bulkhead.Http;

/// <summary>How an outgoing call its workload class refuses reaches the code that made it.</summary>
public enum WorkloadHttpRejectionMode
{
    /// <summary>
    /// The call throws a <see cref="WorkloadRejectedException"/> with the reason and the time after which to retry:
    /// inside a request that Bulkhead.AspNetCore isolates, the request is answered 503 (429 when rate limited).
    /// </summary>
    Throw,

    /// <summary>
    /// The call returns a response made without going to the network: 503 Service Unavailable (429 Too Many Requests
    /// when rate limited) with <c>Retry-After</c>, which retry handlers and resilience pipelines already honour.
    /// </summary>
    Respond,
}
