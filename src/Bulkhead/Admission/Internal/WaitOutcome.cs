namespace Bulkhead.Admission.Internal;

/// <summary>How a wait for a seat ended.</summary>
internal enum WaitOutcome
{
    /// <summary>Still waiting.</summary>
    Waiting,

    /// <summary>A seat was taken for the waiter.</summary>
    Granted,

    /// <summary>The caller canceled the wait.</summary>
    Canceled,

    /// <summary>The class's queue timeout passed.</summary>
    TimedOut,

    /// <summary>The caller's deadline passed first.</summary>
    PastDeadline,

    /// <summary>A newer waiter pushed this one out of a full last-in-first-out queue.</summary>
    Evicted,

    /// <summary>The class was shed under pressure while the waiter waited in its queue.</summary>
    Shed,

    /// <summary>The scheduler was disposed.</summary>
    ShuttingDown,
}
