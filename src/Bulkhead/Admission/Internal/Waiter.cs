using System.Threading.RateLimiting;
using Bulkhead.Queuing.Internal;

namespace Bulkhead.Admission.Internal;

/// <summary>
/// One unit of work waiting for a seat. Its queue links and outcome change only under the engine's lock; it is
/// completed outside the lock, with continuations run asynchronously so that no caller's code runs on the releasing thread.
/// </summary>
internal sealed class Waiter : TaskCompletionSource<WorkloadLease>
{
    public Waiter(ClassState workloadClass, string? partition, long enqueuedTimestamp, CancellationToken cancellationToken)
        : base(TaskCreationOptions.RunContinuationsAsynchronously)
    {
        Class = workloadClass;
        PartitionKey = BoundedKey.For(partition);
        CancellationToken = cancellationToken;
        EnqueuedTimestamp = enqueuedTimestamp;
    }

    /// <summary>Gets or sets the class the waiter waits for; the default class once its own was removed.</summary>
    public ClassState Class { get; set; }

    /// <summary>Gets the partition key as stored (<see cref="BoundedKey"/>); work without one shares the partition <see cref="string.Empty"/>.</summary>
    public string PartitionKey { get; }

    /// <summary>Gets or sets the partition the waiter queues in (and, once granted, holds a seat of).</summary>
    public PartitionState? Partition { get; set; }

    public CancellationToken CancellationToken { get; }

    public long EnqueuedTimestamp { get; }

    /// <summary>Gets or sets the order in which waiters arrived, across classes; set under the engine's lock.</summary>
    public long Sequence { get; set; }

    /// <summary>Gets or sets the queue that holds the waiter, or <see langword="null"/> once it has left it.</summary>
    public WaitQueue? Queue { get; set; }

    /// <summary>The waiter's links in its <see cref="Queue"/>.</summary>
    public ListLinks<Waiter> QueueLinks;

    /// <summary>Gets or sets how the wait ended; set when the waiter leaves its queue.</summary>
    public WaitOutcome Outcome { get; set; }

    /// <summary>Gets or sets the next waiter to complete once the lock is released (an intrusive list: no allocation).</summary>
    public Waiter? NextToComplete { get; set; }

    public CancellationTokenRegistration CancellationRegistration { get; set; }

    /// <summary>Gets or sets the class limiter's lease, held while waiting and handed to the lease once granted.</summary>
    public RateLimitLease? LimiterLease { get; set; }

    /// <summary>Gets or sets a value indicating whether the granted seat is counted in <see cref="Partition"/>.</summary>
    public bool HoldsPartitionSeat { get; set; }

    /// <summary>Gets or sets a value indicating whether more of its partition's work still waited when it was granted (Execution.BackloggedPartitionCpuPriority).</summary>
    public bool Backlogged { get; set; }

    /// <summary>
    /// Gets when the waiter leaves unless served (a TimeProvider timestamp): its class's QueueTimeout or its caller's
    /// deadline, whichever comes first; <see cref="long.MaxValue"/> for never. It keeps its place in its class's <see cref="DueOrder"/>.
    /// </summary>
    public long DueAt { get; init; } = long.MaxValue;

    /// <summary>Gets a value indicating whether <see cref="DueAt"/> is the caller's deadline rather than the queue timeout.</summary>
    public bool DeadlineFirst { get; init; }

    /// <summary>Gets or sets a value indicating whether the waiter is in its class's <see cref="DueOrder"/>.</summary>
    public bool InDueOrder { get; set; }

    /// <summary>The waiter's links in its class's <see cref="DueOrder"/>.</summary>
    public ListLinks<Waiter> DueLinks;

    /// <summary>Gets a value indicating whether the waiter is background work: no queue timeout, never evicted.</summary>
    public bool Background { get; init; }

    /// <summary>Gets the seats the unit of work asked for (its weight); it takes them all at once, clamped to what its class can give.</summary>
    public int Weight { get; init; } = 1;

    /// <summary>Gets or sets the seats taken when the waiter was granted; set under the engine's lock.</summary>
    public int Seats { get; set; } = 1;

    /// <summary>Selects a waiter's links in its queue.</summary>
    internal readonly struct InQueue : IListLinks<Waiter>
    {
        public static ref ListLinks<Waiter> Of(Waiter node) => ref node.QueueLinks;
    }

    /// <summary>Selects a waiter's links in its class's due order.</summary>
    internal readonly struct InDue : IListLinks<Waiter>
    {
        public static ref ListLinks<Waiter> Of(Waiter node) => ref node.DueLinks;
    }
}
