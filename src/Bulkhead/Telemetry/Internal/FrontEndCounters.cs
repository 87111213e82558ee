namespace Bulkhead.Telemetry.Internal;

/// <summary>
/// What front ends decide without a class's seat: work let through exempt, and work that named a class the
/// configuration does not have and ran in the default class instead. <c>AddWorkloadIsolation</c> registers one; the
/// ASP.NET Core middleware reports to it (and only it can: the type is internal, seen by Bulkhead.AspNetCore). Its totals
/// appear in <see cref="WorkloadSnapshot"/> and in the <c>bulkhead.work.decisions</c> and <c>bulkhead.work.fallbacks</c> metrics.
/// </summary>
internal sealed class FrontEndCounters
{
    private long _exempt;
    private long _unknownClassFallbacks;

    /// <summary>Gets how many units of work were let through exempt, without a seat, since start.</summary>
    public long Exempt => Volatile.Read(ref _exempt);

    /// <summary>Gets how many units of work named a class that is not configured and ran in the default class, since start.</summary>
    public long UnknownClassFallbacks => Volatile.Read(ref _unknownClassFallbacks);

    /// <summary>Counts one unit of work let through exempt.</summary>
    public void CountExempt() => Interlocked.Increment(ref _exempt);

    /// <summary>Counts one unit of work that named an unknown class and ran in the default class.</summary>
    public void CountUnknownClassFallback() => Interlocked.Increment(ref _unknownClassFallbacks);
}
