using Bulkhead.Admission.Internal;

namespace Bulkhead.Tests.Reliability;

/// <summary>
/// Every class state an engine had while a test reloaded it: a drained class removed by a reload is forgotten (and made
/// anew if added back), its counts with it, so tests that add up the engine's counts remember each state as it appears.
/// </summary>
internal sealed class EveryClassState
{
    private readonly WorkloadScheduler _scheduler;
    private readonly HashSet<ClassState> _states = new(ReferenceEqualityComparer.Instance);

    public EveryClassState(WorkloadScheduler scheduler)
    {
        _scheduler = scheduler;
        Remember();
    }

    /// <summary>Takes note of the classes in force; call it after each reload (classes appear only with one).</summary>
    public void Remember()
    {
        lock (_states)
        {
            _states.UnionWith(_scheduler.Engine.Classes);
        }
    }

    public ClassState[] All
    {
        get
        {
            lock (_states)
            {
                return [.. _states];
            }
        }
    }
}
