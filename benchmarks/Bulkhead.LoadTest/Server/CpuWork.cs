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

    public static void Calibrate()
    {
        Burn(200_000);
        long iterations = 2_000_000;
        var clock = Stopwatch.StartNew();
        Burn(iterations);
        s_iterationsPerMillisecond = iterations / Math.Max(clock.Elapsed.TotalMilliseconds, 0.001);
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
