using Microsoft.Extensions.Options;

namespace Bulkhead.Options.Internal;

/// <summary>
/// Fails start-up, and any reload, when something registered in code names a workload class the configuration does
/// not have (a hosted service wrapped to run in a class), instead of failing later while the host runs.
/// </summary>
internal sealed class WorkloadClassReferenceCheck(string what, string workloadClass) : IValidateOptions<WorkloadIsolationOptions>
{
    public string WorkloadClass { get; } = workloadClass;

    public ValidateOptionsResult Validate(string? name, WorkloadIsolationOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        bool configured = options.Classes.Count == 0
            ? string.Equals(WorkloadClass, options.DefaultClass, StringComparison.OrdinalIgnoreCase)
            : options.Classes.ContainsKey(WorkloadClass);
        if (configured)
        {
            return ValidateOptionsResult.Success;
        }

        IEnumerable<string> names = options.Classes.Count == 0 ? [options.DefaultClass] : options.Classes.Keys;
        return ValidateOptionsResult.Fail(
            $"{what} runs in workload class '{WorkloadClass}', which is not configured (configured: {string.Join(", ", names.Select(n => $"'{n}'"))}).");
    }
}
