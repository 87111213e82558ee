using Microsoft.AspNetCore.SignalR;

namespace Bulkhead.SignalR;

/// <summary>How hub method invocations are put in workload classes. See docs/signalr.md.</summary>
public sealed class WorkloadIsolationHubOptions
{
    /// <summary>
    /// Gets or sets the class of an invocation whose method and hub name none (<c>[WorkloadClass]</c>);
    /// <see langword="null"/> for the scheduler's default class.
    /// </summary>
    /// <value>The default value is <see langword="null"/>.</value>
    public string? DefaultClass { get; set; }

    /// <summary>
    /// Gets or sets a delegate that returns an invocation's partition key (a tenant, a user), or <see langword="null"/>:
    /// for example <c>invocation =&gt; invocation.Context.UserIdentifier</c>.
    /// </summary>
    /// <value>The default value is <see langword="null"/>: no partition.</value>
    public Func<HubInvocationContext, string?>? PartitionKey { get; set; }
}
