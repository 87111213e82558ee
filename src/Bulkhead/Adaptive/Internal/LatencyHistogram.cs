using System.Numerics;

namespace Bulkhead.Adaptive.Internal;

/// <summary>
/// Durations counted in logarithmic buckets, sixteen per doubling (each at most 6.25 % wide), from 100 ns to
/// centuries, in a fixed array: recording is one increment, and a percentile over any window is the difference of two
/// copies. Counts only grow, so readers never reset what writers are adding to.
/// </summary>
internal sealed class LatencyHistogram
{
    public const int BucketCount = 64 << SubBits;

    private const int SubBits = 4;
    private const int Sub = 1 << SubBits;

    private readonly long[] _counts = new long[BucketCount];

    public void Record(TimeSpan elapsed) => Interlocked.Increment(ref _counts[IndexOf(Math.Max(0, elapsed.Ticks))]);

    /// <summary>Copies the counts so far into <paramref name="target"/>.</summary>
    public void CopyTo(long[] target)
    {
        for (int i = 0; i < BucketCount; i++)
        {
            target[i] = Volatile.Read(ref _counts[i]);
        }
    }

    public static int IndexOf(long ticks)
    {
        if (ticks < Sub)
        {
            return (int)ticks;
        }

        int msb = 63 - BitOperations.LeadingZeroCount((ulong)ticks);
        return ((msb - SubBits + 1) << SubBits) + (int)((ticks >> (msb - SubBits)) & (Sub - 1));
    }

    /// <summary>The longest duration a bucket holds, in ticks.</summary>
    public static long UpperBound(int index)
    {
        if (index < Sub)
        {
            return index;
        }

        int msb = (index >> SubBits) + SubBits - 1;
        return ((long)(Sub + (index & (Sub - 1)) + 1) << (msb - SubBits)) - 1;
    }

    /// <summary>
    /// The <paramref name="quantile"/> of the durations counted between two copies, with <paramref name="zeros"/> more
    /// durations of zero (work admitted without waiting), as the middle of its bucket: within 3.2 % of the true value.
    /// </summary>
    /// <returns>The quantile, or <see langword="null"/> when there is no duration at all.</returns>
    public static TimeSpan? Quantile(long[] now, long[] before, long zeros, double quantile)
    {
        long total = Math.Max(0, zeros);
        for (int i = 0; i < BucketCount; i++)
        {
            total += now[i] - before[i];
        }

        if (total == 0)
        {
            return null;
        }

        long rank = (long)Math.Ceiling(quantile * total);
        long seen = Math.Max(0, zeros);
        if (seen >= rank)
        {
            return TimeSpan.Zero;
        }

        for (int i = 0; i < BucketCount; i++)
        {
            seen += now[i] - before[i];
            if (seen >= rank)
            {
                return TimeSpan.FromTicks(Middle(i));
            }
        }

        return TimeSpan.FromTicks(Middle(BucketCount - 1));
    }

    private static long Middle(int index) => index < Sub ? index : (LowerBound(index) + UpperBound(index)) / 2;

    private static long LowerBound(int index) => index < Sub ? index : UpperBound(index - 1) + 1;

    /// <summary>How many durations were counted between two copies.</summary>
    public static long Count(long[] now, long[] before)
    {
        long total = 0;
        for (int i = 0; i < BucketCount; i++)
        {
            total += now[i] - before[i];
        }

        return total;
    }
}
