using System.Threading.RateLimiting;
using Bulkhead.RateLimiting.Internal;

namespace Bulkhead;

/// <summary>
/// A workload class as the platform's limiter abstraction (System.Threading.RateLimiting), so that it plugs in where a
/// <see cref="RateLimiter"/> or a <see cref="PartitionedRateLimiter{TResource}"/> is taken: ASP.NET Core's
/// <c>AddRateLimiter</c> policies and global limiter, YARP routes, Polly's rate limiter strategy and
/// Microsoft.Extensions.Http.Resilience pipelines.
/// </summary>
/// <remarks>
/// A permit is a seat of the class (a permit count of N is a unit of work of weight N), taken with the class's
/// priority, reserved seats, queue and timeout, rate limit and fleet caps, counted in its metrics, and freed when the
/// lease is disposed. It is admission only: the work runs where the caller runs it, not on the class's threads and
/// not under its execution timeout. A refused lease carries <see cref="MetadataName.RetryAfter"/> (when the class
/// knows when to retry) and <see cref="MetadataName.ReasonPhrase"/>.
/// </remarks>
public static class WorkloadRateLimiterExtensions
{
    /// <summary>Gets a <see cref="RateLimiter"/> whose permits are seats of <paramref name="workloadClass"/>.</summary>
    /// <param name="scheduler">The scheduler.</param>
    /// <param name="workloadClass">A configured workload class.</param>
    /// <param name="partition">The partition every permit is taken in, or <see langword="null"/>.</param>
    /// <returns>The limiter; it holds nothing of its own, so disposing it changes nothing.</returns>
    /// <exception cref="ArgumentException"><paramref name="workloadClass"/> is not a configured class.</exception>
    public static RateLimiter CreateRateLimiter(this IWorkloadScheduler scheduler, string workloadClass, string? partition = null)
    {
        ArgumentNullException.ThrowIfNull(scheduler);
        return new WorkloadClassRateLimiter(scheduler, scheduler.GetClass(workloadClass), partition);
    }

    /// <summary>
    /// Gets a <see cref="PartitionedRateLimiter{TResource}"/> whose permits are seats of <paramref name="workloadClass"/>,
    /// each resource in the partition <paramref name="partition"/> gives (a tenant, a user), for the class's
    /// per-partition caps and rate limits.
    /// </summary>
    /// <typeparam name="TResource">What is limited: <c>HttpContext</c>, <c>HttpRequestMessage</c>, …</typeparam>
    /// <param name="scheduler">The scheduler.</param>
    /// <param name="workloadClass">A configured workload class.</param>
    /// <param name="partition">The partition of a resource, or <see langword="null"/> for the shared one.</param>
    /// <returns>The limiter; it holds nothing of its own, so disposing it changes nothing.</returns>
    /// <exception cref="ArgumentException"><paramref name="workloadClass"/> is not a configured class.</exception>
    public static PartitionedRateLimiter<TResource> CreatePartitionedRateLimiter<TResource>(this IWorkloadScheduler scheduler, string workloadClass, Func<TResource, string?> partition)
    {
        ArgumentNullException.ThrowIfNull(scheduler);
        ArgumentNullException.ThrowIfNull(partition);
        return new WorkloadClassPartitionedRateLimiter<TResource>(scheduler, scheduler.GetClass(workloadClass), partition);
    }
}
