namespace Bulkhead.Http;

/// <summary>
/// Runs the outgoing calls of an <c>HttpClient</c> under a workload class: each call waits for a seat of the class (or
/// is refused) before it is sent, and holds it until its response arrives.
/// </summary>
public sealed class WorkloadIsolationHttpClientOptions
{
    /// <summary>
    /// Gets or sets the workload class the calls take their seats in: a class configured like any other, usually one
    /// per dependency ("orders-db", "payments-api") shared by every client that calls it.
    /// </summary>
    /// <value>The default value is <see langword="null"/>; it must be set, and name a configured class.</value>
    public string? WorkloadClass { get; set; }

    /// <summary>
    /// Gets the class a call takes its seat in by the class of the work that makes it (<see cref="WorkloadContext.Current"/>):
    /// calling class → class at this dependency, for example <c>reporting</c> → <c>payments-reports</c>, so that a
    /// report's calls take the dependency's seats for reports, with their own priority and limit. A call whose work's
    /// class is not listed (or that no work makes) takes its seat in <see cref="WorkloadClass"/>.
    /// </summary>
    /// <value>The default value is empty.</value>
    public IDictionary<string, string> ClassesByCaller { get; } = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);

    /// <summary>Gets or sets a delegate that returns the partition (tenant, user, key) of a call, or <see langword="null"/>.</summary>
    /// <value>The default value is <see langword="null"/>: every call shares one partition.</value>
    public Func<HttpRequestMessage, string?>? PartitionProvider { get; set; }

    /// <summary>
    /// Gets or sets client-side adaptive throttling: while the dependency answers 429 or 503, a share of the calls is
    /// refused here (as the class's refusals are, with <see cref="WorkloadRejectionReason.RateLimited"/>) before it
    /// takes a seat; <see langword="null"/> for none.
    /// </summary>
    /// <value>The default value is <see langword="null"/>.</value>
    public WorkloadAdaptiveThrottlingOptions? AdaptiveThrottling { get; set; }

    /// <summary>Gets or sets how a refused call reaches the code that made it.</summary>
    /// <value>The default value is <see cref="WorkloadHttpRejectionMode.Throw"/>.</value>
    public WorkloadHttpRejectionMode RejectionMode { get; set; } = WorkloadHttpRejectionMode.Throw;
}
