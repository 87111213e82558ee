using System.Threading.RateLimiting;

namespace Bulkhead.Redis.Internal;

/// <summary>Gives each class with fleet-wide limits its Redis limiter, kept across reloads that leave those limits unchanged.</summary>
internal sealed class RedisFleetLimiterFactory(RedisFleetStore store) : IWorkloadFleetLimiterFactory
{
    public PartitionedRateLimiter<string> GetLimiter(string workloadClass, WorkloadClassOptions options, PartitionedRateLimiter<string>? current)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (current is FleetLimiter same && same.SameAs(options))
        {
            return same;
        }

        (current as FleetLimiter)?.Retire();
        store.NoteFleetLimits();
        return new FleetLimiter(store, workloadClass, options);
    }
}
