namespace Bulkhead.Jobs.Internal;

/// <summary>
/// How background work waits for a seat: in the class's queue outside its limit and timeout
/// (<see cref="WorkloadRequest.Background"/>); a rate limit's refusal (or, from a decorated class, a full or
/// timed-out queue) is tried again after its retry-after (1 second when there is none) until the host stops or the
/// scheduler shuts down.
/// </summary>
internal static class SeatWaiter
{
    /// <summary>Returns an acquired lease, or a lease that is not acquired once stopping or shut down.</summary>
    public static async Task<WorkloadLease> WaitAsync(
        WorkloadClass workloadClass,
        WorkloadRequest request,
        TimeProvider timeProvider,
        Action<WorkloadRejectionReason, TimeSpan>? onRetry,
        CancellationToken stoppingToken)
    {
        request = request with { Background = true };
        try
        {
            while (true)
            {
                WorkloadLease lease = await workloadClass.AcquireAsync(request, stoppingToken).ConfigureAwait(false);
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
}
