namespace Bulkhead.Admission.Internal;

/// <summary>
/// The shape of the engine in force: its classes in priority order (draining ones included), their groups of equal
/// priority, the host's seats and the default class. Immutable; replaced whole, under the engine's lock, by
/// reconfiguration.
/// </summary>
internal sealed class EngineConfiguration
{
    public EngineConfiguration(ClassState[] classes, ClassState defaultClass, int totalConcurrency, int pool)
    {
        Classes = classes;
        DefaultClass = defaultClass;
        TotalConcurrency = totalConcurrency;
        Pool = pool;
        PriorityGroups = [.. classes.GroupBy(c => c.Limits.Priority).Select(g => g.ToArray())];
        RoundRobinCursors = new int[PriorityGroups.Length];
        Active = [.. classes.Where(c => !c.Limits.Removed)];
        ActiveByName = Active.ToDictionary(c => c.Name, StringComparer.OrdinalIgnoreCase);
    }

    /// <summary>Gets every class with state, most important first: the configured ones and those still draining.</summary>
    public ClassState[] Classes { get; }

    /// <summary>Gets the configured classes, most important first.</summary>
    public ClassState[] Active { get; }

    public Dictionary<string, ClassState> ActiveByName { get; }

    public ClassState DefaultClass { get; }

    public int TotalConcurrency { get; }

    public int Pool { get; }

    public ClassState[][] PriorityGroups { get; }

    /// <summary>Gets the round-robin position in each priority group; changed under the engine's lock.</summary>
    public int[] RoundRobinCursors { get; }
}
