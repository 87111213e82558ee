namespace Bulkhead;

/// <summary>
/// Where a class's built-in rate limit stands for one partition: what a client needs to pace itself, as the IETF
/// <c>RateLimit-Policy</c> and <c>RateLimit</c> response fields carry it.
/// </summary>
/// <param name="Quota">The most permits at once (the bucket's burst).</param>
/// <param name="Window">How long an empty bucket takes to fill again.</param>
/// <param name="Remaining">The whole permits left now.</param>
/// <param name="Reset">How long until the bucket is full again (zero when it is full).</param>
public readonly record struct WorkloadRateLimitState(int Quota, TimeSpan Window, int Remaining, TimeSpan Reset);
