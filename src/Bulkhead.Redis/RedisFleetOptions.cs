using System.ComponentModel.DataAnnotations;

namespace Bulkhead.Redis;

/// <summary>
/// How Bulkhead makes fleet-wide limits hold on Redis: where Redis is, how each replica takes capacity from it in
/// batches, and what a replica does when Redis is slow or down. See docs/fleet.md.
/// </summary>
public sealed class RedisFleetOptions
{
    /// <summary>
    /// Gets or sets the StackExchange.Redis configuration string (for example <c>localhost:6379</c>).
    /// <see langword="null"/> takes the <c>IConnectionMultiplexer</c> registered in the service collection.
    /// </summary>
    /// <value>The default value is <see langword="null"/>.</value>
    public string? Configuration { get; set; }

    /// <summary>Gets or sets the prefix of every Redis key Bulkhead writes; services sharing one Redis use different prefixes.</summary>
    /// <value>The default value is <c>bulkhead</c>.</value>
    [Required]
    public string KeyPrefix { get; set; } = "bulkhead";

    /// <summary>
    /// Gets or sets how many replicas the service usually runs: while Redis is unreachable each replica enforces this
    /// share of every fleet-wide limit (<see cref="RedisFleetFallback.LocalShare"/>).
    /// </summary>
    /// <value>The default value is 1.</value>
    [Range(1, 100_000)]
    public int ExpectedReplicas { get; set; } = 1;

    /// <summary>Gets or sets what a replica does while Redis is slow or down.</summary>
    /// <value>The default value is <see cref="RedisFleetFallback.LocalShare"/>.</value>
    public RedisFleetFallback Fallback { get; set; } = RedisFleetFallback.LocalShare;

    /// <summary>
    /// Gets or sets the most permits one replica takes from a fleet-wide rate limit at once, and so the most it holds
    /// unused: the fleet can admit at most <c>replicas × MaxBatchSize</c> more than the quota over any period.
    /// </summary>
    /// <value>The default value is 64.</value>
    [Range(1, 1_000_000)]
    public int MaxBatchSize { get; set; } = 64;

    /// <summary>
    /// Gets or sets how long a batch should last at the demand a replica sees: a replica taking 200 permits a second
    /// asks for 100 at a time with 500 ms (up to <see cref="MaxBatchSize"/>). It is also how often a replica holding
    /// seats tells Redis how many it uses: seats it did not use in that time are given back (and, when other replicas
    /// were refused seats, those beyond its fair share); permits unused for twice this long are given back.
    /// </summary>
    /// <value>The default value is 500 milliseconds.</value>
    public TimeSpan BatchInterval { get; set; } = TimeSpan.FromMilliseconds(500);

    /// <summary>
    /// Gets or sets how long Redis keeps the seats of a replica that stopped renewing them (a crashed or frozen replica).
    /// A replica starts work on a seat only in the first half of its lease, so that the work has the other half to end
    /// before Redis may give the seat to another; it renews its seats every <see cref="BatchInterval"/>, so this must be
    /// longer than twice that.
    /// </summary>
    /// <value>The default value is 10 seconds.</value>
    public TimeSpan SeatLeaseTime { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Gets or sets how long one Redis operation may take before it counts as a failure.</summary>
    /// <value>The default value is 250 milliseconds.</value>
    public TimeSpan OperationTimeout { get; set; } = TimeSpan.FromMilliseconds(250);

    /// <summary>
    /// Gets or sets how long a replica stops asking Redis after failures (half its operations failing, at least three,
    /// within two seconds) before it tries again.
    /// </summary>
    /// <value>The default value is 5 seconds.</value>
    public TimeSpan BreakDuration { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Gets or sets the name this replica's seats carry in Redis; <see langword="null"/> for one made at start (machine, process, random).</summary>
    /// <value>The default value is <see langword="null"/>.</value>
    public string? ReplicaId { get; set; }
}
