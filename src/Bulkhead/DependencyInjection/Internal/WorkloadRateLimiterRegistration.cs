using System.Threading.RateLimiting;
using Microsoft.Extensions.DependencyInjection;

namespace Bulkhead.DependencyInjection.Internal;

/// <summary>A limiter registered for a class with <c>AddRateLimiter</c>, created once with the scheduler.</summary>
internal sealed class WorkloadRateLimiterRegistration(string workloadClass, Func<IServiceProvider, PartitionedRateLimiter<string>> factory)
{
    public string WorkloadClass { get; } = workloadClass;

    public PartitionedRateLimiter<string> Create(IServiceProvider services) => factory(services);

    public static Dictionary<string, PartitionedRateLimiter<string>> CreateAll(IServiceProvider services)
    {
        Dictionary<string, PartitionedRateLimiter<string>> limiters = new(StringComparer.OrdinalIgnoreCase);
        foreach (WorkloadRateLimiterRegistration registration in services.GetServices<WorkloadRateLimiterRegistration>())
        {
            limiters[registration.WorkloadClass] = registration.Create(services)
                ?? throw new InvalidOperationException($"The rate limiter factory of workload class '{registration.WorkloadClass}' returned null.");
        }

        return limiters;
    }
}
