using Microsoft.AspNetCore.Http;

namespace Bulkhead.AspNetCore;

/// <summary>
/// How HTTP requests are classified, partitioned and answered when refused. Classes are <see cref="WorkloadIsolationOptions"/>.
/// The settings also bind from the <c>Http</c> part of the <c>WorkloadIsolation</c> section; what code sets with
/// <c>ConfigureHttp</c> comes after it, and the delegates are code only. <see cref="Rules"/> and
/// <see cref="TrustedHeaders"/> follow reloads of the section; the other settings are read when the pipeline is built.
/// </summary>
public sealed class WorkloadIsolationHttpOptions
{
    /// <summary>
    /// Gets the rules that classify requests by path, method, trusted header or claim, in order; the first match wins.
    /// Each must name a class of the configuration in force: a reload that removes a class a rule names is refused whole.
    /// </summary>
    public IList<WorkloadClassRule> Rules { get; } = [];

    /// <summary>
    /// Gets the request headers that rules and the partition key may read. List only headers that a gateway in front of
    /// the host sets and strips from client requests: a client must never choose its own class.
    /// </summary>
    public ISet<string> TrustedHeaders { get; } = new HashSet<string>(StringComparer.OrdinalIgnoreCase);

    /// <summary>
    /// Gets or sets a delegate that returns a request's partition key (tenant, user, API key), or <see langword="null"/>.
    /// Takes precedence over <see cref="PartitionClaim"/> and <see cref="PartitionHeader"/>.
    /// </summary>
    /// <value>The default value is <see langword="null"/>.</value>
    public Func<HttpContext, string?>? PartitionKey { get; set; }

    /// <summary>Gets or sets the claim type whose value is the partition key of an authenticated request.</summary>
    /// <value>The default value is <see langword="null"/>.</value>
    public string? PartitionClaim { get; set; }

    /// <summary>
    /// Gets or sets the header whose value is the partition key. It must be one of <see cref="TrustedHeaders"/>.
    /// </summary>
    /// <value>The default value is <see langword="null"/>.</value>
    public string? PartitionHeader { get; set; }

    /// <summary>
    /// Gets or sets the <c>Retry-After</c> sent when the engine has no better estimate (queue full, queue timeout,
    /// shutting down). Sent in whole seconds, rounded up, at least 1.
    /// </summary>
    /// <value>The default value is 1 second.</value>
    public TimeSpan DefaultRetryAfter { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// Gets or sets a callback that answers rejected requests instead of the default problem details body. The status
    /// code (503, or 429 for <see cref="WorkloadRejectionReason.RateLimited"/>) and <c>Retry-After</c> are set before it runs.
    /// </summary>
    /// <value>The default value is <see langword="null"/>.</value>
    public Func<WorkloadRejectedContext, CancellationToken, ValueTask>? OnRejected { get; set; }

    /// <summary>
    /// Gets or sets a value indicating whether the default rejection body names the workload class and the reason
    /// (<c>workloadClass</c>, <c>reason</c>). Class names are the service's internals, so they are left out unless
    /// this is set; the status, <c>Retry-After</c> and the body's <c>retryAfter</c> always say when to come back.
    /// </summary>
    /// <value>The default value is <see langword="false"/>.</value>
    public bool IncludeRejectionDetails { get; set; }

    /// <summary>
    /// Gets or sets a response header that names the workload class that took the request (admitted or rejected it),
    /// for example <c>X-Workload-Class</c>, to see classification at work from a client or a gateway's logs. Class names
    /// are the service's internals, so no header is sent unless one is named.
    /// </summary>
    /// <value>The default value is <see langword="null"/>: no header.</value>
    public string? WorkloadClassResponseHeader { get; set; }

    /// <summary>
    /// Gets or sets a value indicating whether the request's <see cref="System.Diagnostics.Activity"/> also gets the
    /// partition key (<c>bulkhead.partition</c>) beside the class, the result and the queue wait it always gets. A
    /// partition key is often a tenant or a user: personal data that traces may not be allowed to carry.
    /// </summary>
    /// <value>The default value is <see langword="false"/>.</value>
    public bool IncludePartitionInActivity { get; set; }

    /// <summary>
    /// Gets or sets a value indicating whether responses of classes with a built-in rate limit carry the IETF
    /// <c>RateLimit-Policy</c> and <c>RateLimit</c> fields (draft-ietf-httpapi-ratelimit-headers), so that clients can
    /// pace themselves: the policy is named after the class, <c>q</c> is the burst, <c>w</c> the seconds an empty bucket
    /// takes to fill, <c>r</c> the permits left after this request and <c>t</c> the seconds until the bucket is full.
    /// </summary>
    /// <value>The default value is <see langword="false"/>.</value>
    public bool RateLimitHeaders { get; set; }

    /// <summary>
    /// Gets or sets a value indicating whether the endpoints that must answer during an overload are exempt from
    /// isolation without being marked: those mapped by <c>MapHealthChecks</c>, and metrics scrapes (the route
    /// <c>/metrics</c>, where OpenTelemetry's and prometheus-net's Prometheus endpoints are mapped). An endpoint with a
    /// workload class of its own (<c>WithWorkloadClass</c>, <c>[WorkloadClass]</c>) is isolated in that class.
    /// </summary>
    /// <value>The default value is <see langword="true"/>.</value>
    public bool ExemptWellKnownEndpoints { get; set; } = true;

    /// <summary>
    /// Gets or sets the refusals a second (across every class) above which each refusal is answered after one second
    /// instead of at once, until they fall below a hundredth of this. Clients that retry the moment they are refused,
    /// ignoring <c>Retry-After</c>, otherwise turn refusals into a storm that takes the processor from the work admitted
    /// (measured: the reports on low-priority threads fell to 0.14–0.16 of their throughput under 40,000 refusals a
    /// second). Held refusals wait asynchronously (no thread), at most 4,096 at once; more are answered at once. A
    /// client that leaves while held gets nothing. 0 answers every refusal at once.
    /// </summary>
    /// <value>The default value is 1000.</value>
    public int SlowRefusalsAbove { get; set; } = 1000;

    /// <summary>
    /// Gets or sets how a request's class and deadline travel to the services it calls, and what this service takes from its
    /// callers (off unless <see cref="WorkloadPropagationOptions.Enabled"/>).
    /// </summary>
    public WorkloadPropagationOptions Propagation { get; set; } = new();
}
