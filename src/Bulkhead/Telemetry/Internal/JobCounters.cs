using System.Collections.Concurrent;

namespace Bulkhead.Telemetry.Internal;

/// <summary>The job queue's counts per class, kept apart from the queue so that the scheduler's snapshot can read them.</summary>
internal sealed class JobCounters
{
    private readonly ConcurrentDictionary<string, ClassCounts> _classes = new(StringComparer.OrdinalIgnoreCase);

    public ClassCounts For(string workloadClass) => _classes.GetOrAdd(workloadClass, static _ => new ClassCounts());

    public WorkloadJobCounts Read(string workloadClass) =>
        _classes.TryGetValue(workloadClass, out ClassCounts? counts) ? counts.Read() : WorkloadJobCounts.None;

    public long Total(Func<ClassCounts, long> count) => _classes.Values.Sum(count);

    /// <summary>One class's items; every accepted item moves waiting → running → ended, or waiting → ended, once.</summary>
    internal sealed class ClassCounts
    {
        public int Waiting;
        public int Running;
        public long Completed;
        public long Failed;
        public long Dropped;
        public long Canceled;

        public void Accepted() => Interlocked.Increment(ref Waiting);

        public void Started()
        {
            Interlocked.Decrement(ref Waiting);
            Interlocked.Increment(ref Running);
        }

        /// <summary>An item ended: <paramref name="outcome"/> is one of this object's totals.</summary>
        public void Ended(ref long outcome, bool wasRunning)
        {
            Interlocked.Increment(ref outcome);
            Interlocked.Decrement(ref wasRunning ? ref Running : ref Waiting);
        }

        public WorkloadJobCounts Read() => new()
        {
            Waiting = Math.Max(0, Volatile.Read(ref Waiting)),
            Running = Math.Max(0, Volatile.Read(ref Running)),
            Completed = Volatile.Read(ref Completed),
            Failed = Volatile.Read(ref Failed),
            Dropped = Volatile.Read(ref Dropped),
            Canceled = Volatile.Read(ref Canceled),
        };
    }
}
