namespace Bulkhead.Redis;

/// <summary>What a replica does while Redis is slow or down.</summary>
public enum RedisFleetFallback
{
    /// <summary>
    /// Each replica enforces its share of every fleet-wide limit alone: the limit divided by
    /// <see cref="RedisFleetOptions.ExpectedReplicas"/> (rounded up, at least one).
    /// </summary>
    LocalShare = 0,

    /// <summary>Work under a fleet-wide limit is rejected until Redis answers again.</summary>
    FailClosed = 1,
}
