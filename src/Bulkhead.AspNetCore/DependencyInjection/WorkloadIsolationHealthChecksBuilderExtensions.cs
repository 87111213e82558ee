using Bulkhead;
using Bulkhead.AspNetCore;
using Bulkhead.AspNetCore.Health.Internal;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>
/// Adds a health check of workload isolation.
/// </summary>
public static class WorkloadIsolationHealthChecksBuilderExtensions
{
    /// <summary>
    /// Adds a health check that reports whether the class workload isolation protects (by default the most important
    /// class) admits work at once: Degraded when its work waits longer than a threshold or it rejected work in the last
    /// window, Unhealthy when it keeps rejecting.
    /// </summary>
    /// <param name="builder">The health checks builder from <c>AddHealthChecks</c>.</param>
    /// <param name="configure">Sets the thresholds, or <see langword="null"/> for the defaults.</param>
    /// <param name="name">The health check's name.</param>
    /// <returns>The builder, for chaining.</returns>
    public static IHealthChecksBuilder AddWorkloadIsolation(this IHealthChecksBuilder builder, Action<WorkloadIsolationHealthCheckOptions>? configure = null, string name = "workload-isolation")
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentException.ThrowIfNullOrWhiteSpace(name);

        var options = new WorkloadIsolationHealthCheckOptions();
        configure?.Invoke(options);

        // Health checks are made anew for every run; this one remembers rejections across runs, so it is a singleton
        // of the service provider, one per registered name.
        builder.Services.AddKeyedSingleton(name, (sp, _) => new WorkloadIsolationHealthCheck(
            sp.GetRequiredService<IWorkloadScheduler>(), options, sp.GetService<TimeProvider>() ?? TimeProvider.System));
        return builder.Add(new HealthCheckRegistration(
            name,
            sp => sp.GetRequiredKeyedService<WorkloadIsolationHealthCheck>(name),
            failureStatus: null,
            tags: ["workload-isolation"]));
    }
}
