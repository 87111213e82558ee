using System.Diagnostics;
using System.Runtime.CompilerServices;

namespace Bulkhead.LoadTest.Server;

/// <summary>
/// A fixed amount of computation, calibrated once at start-up to take a given time on an idle core. Never a wall-clock
/// spin: a spin ends "on time" however little CPU it got, and would hide the very contention being measured.
/// </summary>
internal static class CpuWork
{
    private static double s_iterationsPerMillisecond = 100_000;

    /// <summary>Gets or sets how many iterations take a millisecond; the driver calibrates once and every server uses it.</summary>
    public static double IterationsPerMillisecond
    {
        get => s_iterationsPerMillisecond;
        set => s_iterationsPerMillisecond = value;
    }

    /// <summary>Measures the rate on an idle core: the best of several tries, so a busy moment cannot skew it.</summary>
    public static double Calibrate()
    {
        Burn(200_000);
        const long Iterations = 2_000_000;
        double best = 0;
        for (int i = 0; i < 7; i++)
        {
            var clock = Stopwatch.StartNew();
            Burn(Iterations);
            best = Math.Max(best, Iterations / Math.Max(clock.Elapsed.TotalMilliseconds, 0.001));
        }

        s_iterationsPerMillisecond = best;
        return best;
    }

    public static ulong Run(double milliseconds) => Burn((long)(milliseconds * s_iterationsPerMillisecond));

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static ulong Burn(long iterations)
    {
        ulong x = 0x9E3779B97F4A7C15;
        for (long i = 0; i < iterations; i++)
        {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
        }

        return x;
    }
}
