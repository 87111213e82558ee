namespace Bulkhead.Shared;

/// <summary>
/// The headers that carry a unit of work's class and its caller's remaining time from one service to the next: written
/// by Bulkhead.Http's propagation handler and read by Bulkhead.AspNetCore's middleware, compiled into both so that the
/// two defaults cannot drift apart.
/// </summary>
internal static class PropagationHeaders
{
    /// <summary>The workload class the caller's work runs in.</summary>
    public const string Class = "Workload-Class";

    /// <summary>How long the caller still waits for the answer, in whole milliseconds, when it set a deadline.</summary>
    public const string Timeout = "Workload-Timeout-Ms";
}
