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

    /// <summary>
    /// The fleet caps and rates are not exceeded by work that ends within half of
    /// <see cref="RedisFleetOptions.SeatLeaseTime"/> of its start: each replica starts work only on the seats and
    /// permits it took from Redis while Redis answered, in the first half of its lease on those seats (counted from
    /// before Redis started it), and refuses the rest.
    /// </summary>
    Strict = 2,
}
