namespace Bulkhead.Pressure.Internal;

/// <summary>
/// What pressure holds a class to: shed (<paramref name="Max"/> 0: no seat, its work refused, its background work
/// waiting), or, once admitted again, a limit growing back to its configured one, so that the work refused meanwhile
/// does not all start at once and bring the pressure straight back.
/// </summary>
/// <param name="Signal">The signal that shed the class.</param>
/// <param name="Max">0 while shed; else the most units of work in flight at once while the limit grows back.</param>
internal readonly record struct PressureHold(WorkloadPressureSignal Signal, int Max)
{
    public bool Sheds => Max == 0;
}
