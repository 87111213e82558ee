namespace Bulkhead.Jobs.Internal;

/// <summary>
/// How background work waits for a seat: in the class's queue outside its limit and timeout
/// (<see cref="WorkloadClass.WaitForSeatAsync(string?, CancellationToken)"/>); a rate limit's refusal (or, from a decorated class, a full or
/// timed-out queue) is tried again after its retry-after (1 second when there is none) until the host stops or the
/// scheduler shuts down.
/// </summary>
internal static class SeatWaiter
{
    /// <summary>Returns an acquired lease, or a lease that is not acquired once stopping or shut down.</summary>
    public static async Task<WorkloadLease> WaitAsync(
        WorkloadClass workloadClass,
        string? partition,
        int weight,
        TimeProvider timeProvider,
        Action<WorkloadRejectionReason, TimeSpan>? onRetry,
        CancellationToken stoppingToken,
        string? costKey = null)
    {
        try
        {
            while (true)
            {
                WorkloadLease lease = await Wait(workloadClass, partition, weight, costKey, stoppingToken).ConfigureAwait(false);
                if (lease.IsAcquired || lease.RejectionReason is WorkloadRejectionReason.ShuttingDown or WorkloadRejectionReason.WeightTooLarge)
                {
                    return lease;
                }

                TimeSpan delay = lease.RetryAfter ?? TimeSpan.FromSeconds(1);
                onRetry?.Invoke(lease.RejectionReason!.Value, delay);
                await Task.Delay(delay, timeProvider, stoppingToken).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            return default;
        }
    }

    /// <summary>One wait: by the item's weight, or by its job type where its class learns weights.</summary>
    private static ValueTask<WorkloadLease> Wait(WorkloadClass workloadClass, string? partition, int weight, string? costKey, CancellationToken stoppingToken) =>
        costKey is null ? workloadClass.WaitForSeatAsync(partition, weight, stoppingToken) : workloadClass.WaitForSeatAsync(partition, costKey, stoppingToken);
}
