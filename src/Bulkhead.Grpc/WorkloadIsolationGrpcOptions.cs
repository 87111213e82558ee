using Grpc.Core;

namespace Bulkhead.Grpc;

/// <summary>How gRPC calls are put in workload classes. See docs/grpc.md.</summary>
public sealed class WorkloadIsolationGrpcOptions
{
    /// <summary>
    /// Gets or sets the class of a call whose method and service name none (<c>[WorkloadClass]</c>);
    /// <see langword="null"/> for the scheduler's default class.
    /// </summary>
    /// <value>The default value is <see langword="null"/>.</value>
    public string? DefaultClass { get; set; }

    /// <summary>Gets or sets a delegate that returns a call's partition key (a tenant, a user), or <see langword="null"/>.</summary>
    /// <value>The default value is <see langword="null"/>: no partition.</value>
    public Func<ServerCallContext, string?>? PartitionKey { get; set; }

    /// <summary>Gets or sets whether client-, server- and bidirectional-streaming calls hold a seat.</summary>
    /// <value>The default value is <see cref="WorkloadGrpcStreamingMode.Exempt"/>.</value>
    public WorkloadGrpcStreamingMode StreamingMode { get; set; } = WorkloadGrpcStreamingMode.Exempt;
}
