using Bulkhead.Shared;
using Microsoft.AspNetCore.Http;

namespace Bulkhead.AspNetCore;

/// <summary>
/// How a request's workload class and deadline travel with it to the services it calls, and what this service takes
/// from its own callers: bound from <c>WorkloadIsolation:Http:Propagation</c>. See docs/propagation.md.
/// </summary>
public sealed class WorkloadPropagationOptions
{
    /// <summary>
    /// Gets or sets a value indicating whether propagation is on: each request's class and deadline flow to the code it
    /// runs (<see cref="WorkloadContext.Current"/>), so that a client with <c>AddWorkloadPropagation</c> sends them on;
    /// and a request from a trusted caller runs in the class it carries (a configured one; endpoints exempt from
    /// isolation stay exempt) and is refused once the time it carries is up.
    /// </summary>
    /// <value>The default value is <see langword="false"/>.</value>
    public bool Enabled { get; set; }

    /// <summary>Gets or sets the header that carries the caller's workload class.</summary>
    /// <value>The default value is <c>Workload-Class</c>.</value>
    public string ClassHeader { get; set; } = PropagationHeaders.Class;

    /// <summary>Gets or sets the header that carries how long the caller still waits, in whole milliseconds.</summary>
    /// <value>The default value is <c>Workload-Timeout-Ms</c>.</value>
    public string TimeoutHeader { get; set; } = PropagationHeaders.Timeout;

    /// <summary>
    /// Gets the networks (CIDR, such as <c>10.0.0.0/8</c> or <c>fd00::/8</c>) whose callers are trusted to set the
    /// class and the deadline: the service's own fleet. Anyone else's headers are ignored, so that a client cannot
    /// promote its requests by naming a class.
    /// </summary>
    /// <value>The default value is empty: no caller is trusted by its address.</value>
    public IList<string> TrustedNetworks { get; } = [];

    /// <summary>
    /// Gets or sets a callback that trusts a caller by something other than its address (a client certificate, a
    /// claim of a service identity); a caller is trusted when it is in <see cref="TrustedNetworks"/> or this says so.
    /// </summary>
    /// <value>The default value is <see langword="null"/>.</value>
    public Func<HttpContext, bool>? IsTrustedCaller { get; set; }
}
