using System.Runtime.CompilerServices;

namespace Bulkhead.RateLimiting.Internal;

/// <summary>
/// A token bucket replenished continuously, kept as one number: the time at which it will be full again (the generic
/// cell rate algorithm). Taking permits moves that time on by their worth, in one compare-and-swap: no lock, no timer,
/// nothing allocated.
/// </summary>
/// <remarks>
/// <para>
/// The semantics of System.Threading.RateLimiting's token bucket (a capacity, a refill rate, an exact retry-after),
/// on a <see cref="TimeProvider"/>, so that a <c>FakeTimeProvider</c> drives it in tests. With n permits' worth of debt
/// the bucket holds capacity − n tokens; a take of k permits succeeds while the debt after it stays within the capacity.
/// </para>
/// <para>
/// On <see cref="TimeProvider.System"/> it reads the coarse monotonic clock (<see cref="Environment.TickCount64"/>, a few
/// nanoseconds instead of the tens a precise timestamp costs): a permit may be seen up to one tick of that clock late
/// (about 4 ms on Linux, 16 ms on Windows), and none is ever lost, because the debt, not a token count capped at the
/// capacity, carries over from tick to tick: over any span longer than a tick the rate is exact.
/// </para>
/// </remarks>
internal sealed class TokenBucket
{
    private readonly TimeProvider _timeProvider;
    private readonly bool _coarse;
    private readonly long _origin;
    private readonly double _unitsPerSecond;
    private readonly double _interval;
    private readonly double _capacity;

    // When the bucket is full again, in clock units after _origin, as the bits of a double; at or before now, it is full.
    private long _fullAt;

    public TokenBucket(double permitsPerSecond, int capacity, TimeProvider timeProvider)
    {
        _timeProvider = timeProvider;
        _coarse = ReferenceEquals(timeProvider, TimeProvider.System);
        _unitsPerSecond = _coarse ? 1_000 : timeProvider.TimestampFrequency;
        _interval = _unitsPerSecond / permitsPerSecond;
        _capacity = capacity;
        _origin = Clock();
        _fullAt = BitConverter.DoubleToInt64Bits(0);
    }

    /// <summary>Takes permits, or says how long until they are there.</summary>
    public bool TryTake(int permits, out TimeSpan retryAfter)
    {
        double now = Now();
        double worth = permits * _interval;
        double tolerance = (_capacity * _interval) - worth;
        long seen = Volatile.Read(ref _fullAt);
        while (true)
        {
            double debt = Math.Max(BitConverter.Int64BitsToDouble(seen), now) - now;
            if (debt > tolerance)
            {
                // Round up to a whole tick: a retry after exactly this long finds the permits there.
                retryAfter = TimeSpan.FromTicks((long)Math.Ceiling((debt - tolerance) / _unitsPerSecond * TimeSpan.TicksPerSecond));
                return false;
            }

            long next = BitConverter.DoubleToInt64Bits(now + debt + worth);
            long witnessed = Interlocked.CompareExchange(ref _fullAt, next, seen);
            if (witnessed == seen)
            {
                retryAfter = TimeSpan.Zero;
                return true;
            }

            seen = witnessed;
        }
    }

    /// <summary>Whether the bucket is full now: such a bucket is the same as a new one, and may be forgotten.</summary>
    public bool IsFull() => BitConverter.Int64BitsToDouble(Volatile.Read(ref _fullAt)) <= Now();

    /// <summary>Gets the permits in the bucket now.</summary>
    public double Available()
    {
        double now = Now();
        double debt = Math.Max(BitConverter.Int64BitsToDouble(Volatile.Read(ref _fullAt)), now) - now;
        return _capacity - (debt / _interval);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private long Clock() => _coarse ? Environment.TickCount64 : _timeProvider.GetTimestamp();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private double Now() => Clock() - _origin;
}
