using System.Threading.RateLimiting;

namespace Bulkhead;

/// <summary>
/// Creates the admission checks that make a class's <see cref="WorkloadClassOptions.Fleet"/> limits (caps and a rate)
/// hold across the fleet. Registered by a store
/// package (Bulkhead.Redis's <c>AddRedisFleetLimits</c>); the scheduler asks it when it is created and at every
/// configuration reload, for each class with a fleet-wide limit.
/// </summary>
/// <remarks>
/// The limiter is the class's admission check, in place of a process-local rate limit: it is asked with the work's
/// partition key before a seat is sought, and its lease is held with the seat. <see cref="GetLimiter"/> is called under
/// the scheduler's lock: it must not block or do I/O.
/// </remarks>
public interface IWorkloadFleetLimiterFactory
{
    /// <summary>Gets the limiter for a class's fleet-wide limits.</summary>
    /// <param name="workloadClass">The class.</param>
    /// <param name="options">The class's options; at least one of its limits has fleet scope.</param>
    /// <param name="current">The limiter the class has now (from an earlier call), or <see langword="null"/>.</param>
    /// <returns><paramref name="current"/> when the class's fleet-wide limits are unchanged, so that the seats and permits it holds carry over; otherwise a new limiter.</returns>
    PartitionedRateLimiter<string> GetLimiter(string workloadClass, WorkloadClassOptions options, PartitionedRateLimiter<string>? current);
}
