using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Bulkhead.AspNetCore.Health.Internal;

/// <summary>
/// Healthy while the protected class neither keeps work waiting long nor rejects; Degraded when its oldest waiter is
/// older than <see cref="WorkloadIsolationHealthCheckOptions.MaxWaiterAge"/> or it rejected work within the window;
/// Unhealthy when it has kept rejecting for <see cref="WorkloadIsolationHealthCheckOptions.UnhealthyAfter"/>.
/// </summary>
/// <remarks>
/// The verdict is read from the engine's time-stamped record of rejections (<see cref="WorkloadClassSnapshot.RecentRejections"/>),
/// not from what earlier probes saw: a probe after two quiet minutes and probes every second give the same answer.
/// </remarks>
internal sealed class WorkloadIsolationHealthCheck(IWorkloadScheduler scheduler, WorkloadIsolationHealthCheckOptions options) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        WorkloadSnapshot snapshot = scheduler.GetSnapshot();
        WorkloadClassSnapshot? watched = options.ProtectedClass is { } name
            ? snapshot.Classes.FirstOrDefault(c => string.Equals(c.Name, name, StringComparison.OrdinalIgnoreCase))
            : snapshot.Classes.Where(c => !c.IsDraining).MinBy(c => c.Priority);
        if (watched is null)
        {
            return Task.FromResult(HealthCheckResult.Unhealthy($"Workload class '{options.ProtectedClass}' is not configured."));
        }

        (long rejectedInWindow, TimeSpan? rejectingFor) = Judge(watched.RecentRejections, options.Window);
        var data = new Dictionary<string, object>
        {
            ["workloadClass"] = watched.Name,
            ["inFlight"] = watched.InFlight,
            ["queued"] = watched.Queued,
            ["rejectedInWindow"] = rejectedInWindow,
            ["rejectingFor"] = rejectingFor ?? TimeSpan.Zero,
            ["oldestWaiterAge"] = watched.OldestWaiterAge ?? TimeSpan.Zero,
        };
        HealthCheckResult result =
            rejectingFor >= options.UnhealthyAfter ? HealthCheckResult.Unhealthy($"Workload class '{watched.Name}' has kept rejecting work for {Round(rejectingFor.Value)} (a rejection in every {options.Window}).", data: data)
            : rejectedInWindow > 0 ? HealthCheckResult.Degraded($"Workload class '{watched.Name}' rejected {rejectedInWindow} unit(s) of work in the last {options.Window}.", data: data)
            : watched.OldestWaiterAge > options.MaxWaiterAge ? HealthCheckResult.Degraded($"Work of class '{watched.Name}' has waited {watched.OldestWaiterAge} for a seat.", data: data)
            : HealthCheckResult.Healthy($"Workload class '{watched.Name}' admits work at once.", data);
        return Task.FromResult(result);
    }

    /// <summary>
    /// The rejections of the last window, and how long the class has been rejecting with no window free of rejections
    /// (<see langword="null"/> when the last window had none).
    /// </summary>
    private static (long RejectedInWindow, TimeSpan? RejectingFor) Judge(IReadOnlyList<WorkloadRejectionPeriod> periods, TimeSpan window)
    {
        if (periods.Count == 0 || periods[0].EndedAgo > window)
        {
            return (0, null);
        }

        // Periods are newest first; one that overlaps the window counts whole (the history's resolution is a second).
        long rejected = periods.TakeWhile(p => p.EndedAgo <= window).Sum(p => p.Rejected);
        TimeSpan since = periods[0].StartedAgo;
        for (int i = 1; i < periods.Count && since - periods[i].EndedAgo <= window; i++)
        {
            since = periods[i].StartedAgo;
        }

        return (rejected, since);
    }

    private static TimeSpan Round(TimeSpan span) => TimeSpan.FromSeconds(Math.Floor(span.TotalSeconds));
}
