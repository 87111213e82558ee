using System.Diagnostics.Metrics;
using Bulkhead.Polly;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers retry budgets, one per dependency, for the retry strategies that call it.</summary>
public static class WorkloadRetryBudgetServiceCollectionExtensions
{
    /// <summary>
    /// Registers a <see cref="WorkloadRetryBudget"/> as a keyed singleton under <paramref name="name"/>, on the
    /// container's <see cref="TimeProvider"/> and <see cref="IMeterFactory"/> when it has them. Resolve it with
    /// <c>GetRequiredKeyedService&lt;WorkloadRetryBudget&gt;(name)</c> where a retry strategy is configured.
    /// </summary>
    /// <param name="services">The services.</param>
    /// <param name="name">The budget's name, usually the dependency's workload class.</param>
    /// <param name="configure">Sets how many retries the budget allows; the defaults when <see langword="null"/>.</param>
    /// <returns>The services, for chaining.</returns>
    /// <exception cref="ArgumentException">The options are out of range (checked here, not when the budget is first used).</exception>
    public static IServiceCollection AddWorkloadRetryBudget(this IServiceCollection services, string name, Action<WorkloadRetryBudgetOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        var options = new WorkloadRetryBudgetOptions();
        configure?.Invoke(options);
        WorkloadRetryBudget.Validate(name, options);
        return services.AddKeyedSingleton(name, (provider, _) => new WorkloadRetryBudget(name, options, provider.GetService<TimeProvider>(), provider.GetService<IMeterFactory>()));
    }
}
