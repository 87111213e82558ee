using Microsoft.Extensions.Options;

namespace Bulkhead.AspNetCore.Options.Internal;

/// <summary>
/// Checks the HTTP settings against the configuration at start-up: a partition header must be one a gateway sets.
/// </summary>
internal sealed class WorkloadIsolationHttpOptionsValidator(IOptions<WorkloadIsolationOptions> options) : IValidateOptions<WorkloadIsolationHttpOptions>
{
    public ValidateOptionsResult Validate(string? name, WorkloadIsolationHttpOptions httpOptions)
    {
        ArgumentNullException.ThrowIfNull(httpOptions);

        List<string> failures = [];
        if (httpOptions.PartitionHeader is { } header && !options.Value.TrustedHeaders.Contains(header))
        {
            failures.Add($"WorkloadIsolationHttpOptions: PartitionHeader '{header}' is not in WorkloadIsolation:TrustedHeaders; only a header a gateway sets (and strips from clients) may choose a partition.");
        }

        if (httpOptions.DefaultRetryAfter < TimeSpan.Zero)
        {
            failures.Add($"WorkloadIsolationHttpOptions: DefaultRetryAfter ({httpOptions.DefaultRetryAfter}) must be zero or positive.");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
