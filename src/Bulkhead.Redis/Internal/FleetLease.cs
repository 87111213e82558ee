using System.Threading.RateLimiting;

namespace Bulkhead.Redis.Internal;

/// <summary>A fleet limiter's answer: a grant holding up to two seats (the class's and the partition's), or a refusal with when to retry.</summary>
internal sealed class FleetLease : RateLimitLease
{
    private static readonly string[] RetryAfterOnly = [MetadataName.RetryAfter.Name];
    private static readonly FleetLease GrantedWithoutSeats = new(null, null);

    private readonly TimeSpan _retryAfter;
    private SeatStock? _classSeat;
    private SeatStock? _partitionSeat;

    private FleetLease(SeatStock? classSeat, SeatStock? partitionSeat)
    {
        IsAcquired = true;
        _classSeat = classSeat;
        _partitionSeat = partitionSeat;
    }

    private FleetLease(TimeSpan retryAfter)
    {
        _retryAfter = retryAfter;
    }

    public override bool IsAcquired { get; }

    public override IEnumerable<string> MetadataNames => IsAcquired ? [] : RetryAfterOnly;

    public static FleetLease Granted(SeatStock? classSeat, SeatStock? partitionSeat) =>
        classSeat is null && partitionSeat is null ? GrantedWithoutSeats : new FleetLease(classSeat, partitionSeat);

    public static FleetLease Refused(TimeSpan retryAfter) => new(retryAfter);

    public override bool TryGetMetadata(string metadataName, out object? metadata)
    {
        if (!IsAcquired && metadataName == MetadataName.RetryAfter.Name)
        {
            metadata = _retryAfter;
            return true;
        }

        metadata = null;
        return false;
    }

    protected override void Dispose(bool disposing)
    {
        Interlocked.Exchange(ref _classSeat, null)?.Release();
        Interlocked.Exchange(ref _partitionSeat, null)?.Release();
        base.Dispose(disposing);
    }
}
