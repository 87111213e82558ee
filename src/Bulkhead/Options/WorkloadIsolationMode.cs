namespace Bulkhead;

/// <summary>Whether Bulkhead's decisions are carried out, or only computed and reported (a shadow mode for a safe rollout).</summary>
public enum WorkloadIsolationMode
{
    /// <summary>Decisions are carried out: work waits for its seat, and is rejected when a limit says so.</summary>
    Enforce = 0,

    /// <summary>
    /// Every decision is computed, counted and logged as Enforce would make it, with seats counted as Enforce would hold
    /// them, but work is admitted at once: nothing waits and nothing is rejected. See docs/rollout.md.
    /// </summary>
    Observe = 1,
}
