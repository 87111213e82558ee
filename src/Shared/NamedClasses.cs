using System.Collections.Concurrent;

namespace Bulkhead.Shared;

/// <summary>
/// Finds the class a front end's configuration or attributes name: the class itself, the scheduler's default class for
/// no name, and for a name that is not configured the default class too, reported once per name (at most 256 names, so
/// that a stream of bad names cannot grow it).
/// </summary>
/// <param name="scheduler">The scheduler whose classes are named.</param>
/// <param name="reportUnknown">Logs a name that is not configured, with the default class its work runs in.</param>
internal sealed class NamedClasses(IWorkloadScheduler scheduler, Action<string, string> reportUnknown)
{
    private readonly ConcurrentDictionary<string, bool> _reported = new(StringComparer.Ordinal);

    public WorkloadClass Resolve(string? name)
    {
        if (name is null)
        {
            return scheduler.DefaultClass;
        }

        if (scheduler.TryGetClass(name, out WorkloadClass? found))
        {
            return found;
        }

        if (_reported.Count < 256 && _reported.TryAdd(name, true))
        {
            reportUnknown(name, scheduler.DefaultClass.Name);
        }

        return scheduler.DefaultClass;
    }
}
