namespace Bulkhead.Admission.Internal;

/// <summary>How an acquisition that finds no free seat waits.</summary>
internal enum WaitMode : byte
{
    /// <summary>It does not wait: a try.</summary>
    None,

    /// <summary>It waits in the class's queue within its QueueLimit and QueueTimeout (work with a client waiting).</summary>
    Queue,

    /// <summary>It waits in the class's queue as long as it takes, outside QueueLimit and QueueTimeout (background work).</summary>
    Background,
}
