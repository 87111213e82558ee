using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Bulkhead.Fleet.Internal;

/// <summary>A class with a fleet-wide limit needs a fleet store: without one, start-up (or the reload) fails naming the class.</summary>
internal sealed class WorkloadFleetScopeCheck(IServiceProvider services) : IValidateOptions<WorkloadIsolationOptions>
{
    private readonly bool _hasStore = services.GetService<IWorkloadFleetLimiterFactory>() is not null;

    public ValidateOptionsResult Validate(string? name, WorkloadIsolationOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (_hasStore)
        {
            return ValidateOptionsResult.Success;
        }

        List<string> failures = [.. options.Classes
            .Where(c => c.Value?.HasFleetLimits == true)
            .Select(c => $"Workload class '{c.Key}': has a fleet-wide limit (RateLimit Scope Fleet, or Fleet caps) but no fleet store is registered; add one, for example AddWorkloadIsolation(...).AddRedisFleetLimits(...) from the Bulkhead.Redis package.")];
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
