namespace Bulkhead.AspNetCore.Telemetry.Internal;

/// <summary>What the middleware counts of its own: requests let through exempt, and names that fell back to the default class.</summary>
internal sealed class HttpIsolationCounters
{
    /// <summary>Requests let through without a seat because their endpoint is exempt.</summary>
    public long Exempt;

    /// <summary>Requests that named an unknown class and ran in the default class instead.</summary>
    public long UnknownClassFallbacks;
}
