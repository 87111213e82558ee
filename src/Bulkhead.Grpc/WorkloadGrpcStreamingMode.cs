namespace Bulkhead.Grpc;

/// <summary>Whether, and for how long, a streaming call holds a seat of its class.</summary>
public enum WorkloadGrpcStreamingMode
{
    /// <summary>
    /// Streaming calls take no seat: a stream that stays open for hours would hold it for hours, and a class whose seats
    /// are all held by open streams admits nothing else.
    /// </summary>
    Exempt = 0,

    /// <summary>A streaming call waits for a seat of its class and holds it until the call ends, like a unary call.</summary>
    PerCall = 1,

    /// <summary>
    /// Each message a call receives is handled holding a seat: taken once the message has arrived, given back when the
    /// handler asks for the next message or the call ends. A client- or bidirectional-streaming call that waits for its
    /// client's next message holds no seat, and its messages take turns with other work of the class. A
    /// server-streaming call receives one message, so it holds its seat until it ends, as with <see cref="PerCall"/>.
    /// </summary>
    PerMessage = 2,
}
