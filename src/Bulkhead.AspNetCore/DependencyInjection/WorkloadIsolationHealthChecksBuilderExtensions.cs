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
        Validate(options);

        // The check keeps nothing between runs: the engine keeps the record of rejections it judges by.
        return builder.Add(new HealthCheckRegistration(
            name,
            sp => new WorkloadIsolationHealthCheck(sp.GetRequiredService<IWorkloadScheduler>(), options),
            failureStatus: null,
            tags: ["workload-isolation"]));
    }

    private static void Validate(WorkloadIsolationHealthCheckOptions options)
    {
        // The engine keeps an hour of rejections: a longer span could never be judged.
        TimeSpan hour = TimeSpan.FromHours(1);
        foreach ((string field, TimeSpan value) in new[] { ("Window", options.Window), ("UnhealthyAfter", options.UnhealthyAfter), ("MaxWaiterAge", options.MaxWaiterAge) })
        {
            if (value <= TimeSpan.Zero || value > hour)
            {
                throw new ArgumentOutOfRangeException(nameof(options), value, $"WorkloadIsolationHealthCheckOptions: {field} ({value}) must be positive and at most an hour.");
            }
        }
    }
}
