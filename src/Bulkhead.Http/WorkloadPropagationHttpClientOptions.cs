using Bulkhead.Shared;

namespace Bulkhead.Http;

/// <summary>The headers a client's calls carry the current unit of work's class and deadline in (see <see cref="WorkloadContext"/>).</summary>
public sealed class WorkloadPropagationHttpClientOptions
{
    /// <summary>Gets or sets the header that carries the workload class; the called service reads the same one.</summary>
    /// <value>The default value is <c>Workload-Class</c>.</value>
    public string ClassHeader { get; set; } = PropagationHeaders.Class;

    /// <summary>Gets or sets the header that carries how long the caller still waits, in whole milliseconds.</summary>
    /// <value>The default value is <c>Workload-Timeout-Ms</c>.</value>
    public string TimeoutHeader { get; set; } = PropagationHeaders.Timeout;
}
