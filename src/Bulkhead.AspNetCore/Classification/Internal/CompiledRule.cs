using System.Security.Claims;
using Microsoft.AspNetCore.Http;

namespace Bulkhead.AspNetCore.Classification.Internal;

/// <summary>A configured <see cref="WorkloadClassRule"/>, resolved once: its class found, its path parsed.</summary>
internal sealed class CompiledRule(WorkloadClassRule rule, WorkloadClass workloadClass)
{
    private readonly PathString? _pathPrefix = rule.PathPrefix is null ? null : new PathString(rule.PathPrefix.TrimEnd('/'));

    public WorkloadClass Class { get; } = workloadClass;

    public int Weight { get; } = rule.Weight;

    public bool Matches(HttpContext context)
    {
        HttpRequest request = context.Request;
        if (_pathPrefix is { } prefix && !request.Path.StartsWithSegments(prefix, StringComparison.OrdinalIgnoreCase))
        {
            return false;
        }

        if (rule.Method is { } method && !string.Equals(request.Method, method, StringComparison.OrdinalIgnoreCase))
        {
            return false;
        }

        if (rule.Header is { } header)
        {
            if (!request.Headers.TryGetValue(header, out var values)
                || (rule.HeaderValue is { } wanted && !values.Contains(wanted, StringComparer.Ordinal)))
            {
                return false;
            }
        }

        if (rule.Claim is { } claimType)
        {
            Claim? claim = context.User.FindFirst(claimType);
            if (claim is null || (rule.ClaimValue is { } value && !string.Equals(claim.Value, value, StringComparison.Ordinal)))
            {
                return false;
            }
        }

        return true;
    }
}
