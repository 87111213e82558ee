namespace Bulkhead.Grpc;

/// <summary>Whether a streaming call holds a seat of its class.</summary>
public enum WorkloadGrpcStreamingMode
{
    /// <summary>
    /// Streaming calls take no seat: a stream that stays open for hours would hold it for hours, and a class whose seats
    /// are all held by open streams admits nothing else.
    /// </summary>
    Exempt = 0,

    /// <summary>A streaming call waits for a seat of its class and holds it until the call ends, like a unary call.</summary>
    PerCall = 1,
}
