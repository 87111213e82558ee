namespace Bulkhead.AspNetCore;

/// <summary>
/// A configured rule that puts matching requests in a workload class. Every condition that is set must match;
/// the first matching rule wins.
/// </summary>
/// <remarks>
/// Rules are data, bound from configuration (<c>WorkloadIsolation:Http:Rules</c>) or added in code
/// (<see cref="WorkloadIsolationHttpOptions.Rules"/>), and applied after endpoint metadata and before
/// <c>IWorkloadClassifier</c> registrations. They follow reloads of the configuration, checked against its classes.
/// </remarks>
public sealed class WorkloadClassRule
{
    /// <summary>Gets or sets the class that matching requests run in.</summary>
    /// <value>The default value is <see langword="null"/>; a rule must name a configured class.</value>
    public string? Class { get; set; }

    /// <summary>Gets or sets the seats each matching request takes in its class at once (see <c>WithWorkloadClass(name, weight)</c>).</summary>
    /// <value>The default value is 1.</value>
    public int Weight { get; set; } = 1;

    /// <summary>Gets or sets the path prefix to match, by whole segments and without regard to case (<c>/reports</c> matches <c>/reports/7</c>, not <c>/reportsx</c>).</summary>
    /// <value>The default value is <see langword="null"/>: any path.</value>
    public string? PathPrefix { get; set; }

    /// <summary>Gets or sets the HTTP method to match, without regard to case.</summary>
    /// <value>The default value is <see langword="null"/>: any method.</value>
    public string? Method { get; set; }

    /// <summary>
    /// Gets or sets a request header to match. It must be listed in <see cref="WorkloadIsolationHttpOptions.TrustedHeaders"/>:
    /// only a header a gateway sets (and strips from clients) may choose a class.
    /// </summary>
    /// <value>The default value is <see langword="null"/>: no header condition.</value>
    public string? Header { get; set; }

    /// <summary>Gets or sets the value <see cref="Header"/> must equal (ordinal); <see langword="null"/> matches any value of a present header.</summary>
    /// <value>The default value is <see langword="null"/>.</value>
    public string? HeaderValue { get; set; }

    /// <summary>Gets or sets a claim type of the authenticated user to match.</summary>
    /// <value>The default value is <see langword="null"/>: no claim condition.</value>
    public string? Claim { get; set; }

    /// <summary>Gets or sets the value <see cref="Claim"/> must equal (ordinal); <see langword="null"/> matches any value of a present claim.</summary>
    /// <value>The default value is <see langword="null"/>.</value>
    public string? ClaimValue { get; set; }
}
