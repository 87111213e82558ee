using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Bulkhead.AspNetCore.Health.Internal;

/// <summary>
/// Healthy while the protected class neither keeps work waiting long nor rejects; Degraded when its oldest waiter is
/// older than <see cref="WorkloadIsolationHealthCheckOptions.MaxWaiterAge"/> or it rejected work within the window;
/// Unhealthy when it has kept rejecting for <see cref="WorkloadIsolationHealthCheckOptions.UnhealthyAfter"/>.
/// </summary>
internal sealed class WorkloadIsolationHealthCheck(IWorkloadScheduler scheduler, WorkloadIsolationHealthCheckOptions options, TimeProvider timeProvider) : IHealthCheck
{
    private readonly Lock _lock = new();
    private readonly Queue<(long Timestamp, long Rejected)> _samples = new();
    private long? _rejectingSince;

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

        long now = timeProvider.GetTimestamp();
        long rejectedInWindow;
        bool keptRejecting;
        lock (_lock)
        {
            // The rejections since the newest sample at least a window old (or since the oldest sample kept).
            _samples.Enqueue((now, watched.Rejected));
            while (_samples.Count > 1 && timeProvider.GetElapsedTime(_samples.ElementAt(1).Timestamp, now) >= options.Window)
            {
                _samples.Dequeue();
            }

            rejectedInWindow = watched.Rejected - _samples.Peek().Rejected;
            _rejectingSince = rejectedInWindow > 0 ? _rejectingSince ?? _samples.Peek().Timestamp : null;
            keptRejecting = _rejectingSince is { } since && timeProvider.GetElapsedTime(since, now) >= options.UnhealthyAfter;
        }

        var data = new Dictionary<string, object>
        {
            ["workloadClass"] = watched.Name,
            ["inFlight"] = watched.InFlight,
            ["queued"] = watched.Queued,
            ["rejectedInWindow"] = rejectedInWindow,
            ["oldestWaiterAge"] = watched.OldestWaiterAge ?? TimeSpan.Zero,
        };
        HealthCheckResult result =
            keptRejecting ? HealthCheckResult.Unhealthy($"Workload class '{watched.Name}' has kept rejecting work for {options.UnhealthyAfter}.", data: data)
            : rejectedInWindow > 0 ? HealthCheckResult.Degraded($"Workload class '{watched.Name}' rejected {rejectedInWindow} unit(s) of work in the last {options.Window}.", data: data)
            : watched.OldestWaiterAge > options.MaxWaiterAge ? HealthCheckResult.Degraded($"Work of class '{watched.Name}' has waited {watched.OldestWaiterAge} for a seat.", data: data)
            : HealthCheckResult.Healthy($"Workload class '{watched.Name}' admits work at once.", data);
        return Task.FromResult(result);
    }
}
