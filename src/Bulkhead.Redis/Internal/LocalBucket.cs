namespace Bulkhead.Redis.Internal;

/// <summary>
/// One key's share of a fleet-wide rate, enforced by this replica alone while Redis is unreachable: the rate and the
/// burst divided by the expected number of replicas (the burst rounded up, at least one). The share of a fleet cap is
/// kept by the key's <see cref="SeatStock"/>, which counts every seat in use here however it was granted.
/// </summary>
internal sealed class LocalBucket(TimeProvider time, double permitsPerSecond, int burst)
{
    private readonly Lock _lock = new();
    private double _tokens = burst;
    private long _updated = time.GetTimestamp();

    /// <summary>Takes a permit of the local rate: granted, or how long until one.</summary>
    public bool TryTakePermit(out TimeSpan retryAfter)
    {
        lock (_lock)
        {
            long now = time.GetTimestamp();
            _tokens = Math.Min(burst, _tokens + (time.GetElapsedTime(_updated, now).TotalSeconds * permitsPerSecond));
            _updated = now;
            if (_tokens >= 1)
            {
                _tokens--;
                retryAfter = TimeSpan.Zero;
                return true;
            }

            retryAfter = TimeSpan.FromSeconds((1 - _tokens) / permitsPerSecond);
            return false;
        }
    }

    public void ReturnPermit()
    {
        lock (_lock)
        {
            _tokens = Math.Min(burst, _tokens + 1);
        }
    }
}
