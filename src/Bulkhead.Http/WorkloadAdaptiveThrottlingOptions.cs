namespace Bulkhead.Http;

/// <summary>
/// Client-side adaptive throttling (Google SRE, "Handling Overload"): while the dependency refuses calls, a share of
/// the next calls is refused here, before they are sent, so that an overloaded dependency spends nothing on requests
/// it would refuse anyway. A call is refused locally with probability
/// <c>max(0, (requests − Multiplier × accepts) / (requests + 1))</c>, over the last <see cref="Window"/>: requests are
/// the calls asked for (those refused locally included), accepts those the dependency answered with anything but 429
/// or 503. See docs/outgoing.md.
/// </summary>
public sealed class WorkloadAdaptiveThrottlingOptions
{
    /// <summary>
    /// Gets or sets <c>K</c>: how many requests per accepted one the client sends before it refuses any itself. Lower is
    /// more aggressive (less wasted on the dependency, more refused that it might have served); at least 1.
    /// </summary>
    /// <value>The default value is 2.</value>
    public double Multiplier { get; set; } = 2;

    /// <summary>Gets or sets how far back requests and accepts are counted; at least a second.</summary>
    /// <value>The default value is 2 minutes.</value>
    public TimeSpan Window { get; set; } = TimeSpan.FromMinutes(2);

    /// <summary>Gets or sets the draw in [0, 1) a call is refused against; tests set a seeded one so that a run is repeatable.</summary>
    internal Func<double>? Draw { get; set; }
}
