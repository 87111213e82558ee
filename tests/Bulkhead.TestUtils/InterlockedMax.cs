namespace Bulkhead.TestUtils;

/// <summary>Keeps the largest value seen, from many threads at once (peaks of work in flight).</summary>
public static class InterlockedMax
{
    /// <summary>Raises <paramref name="location"/> to <paramref name="value"/> if it is larger.</summary>
    public static void Raise(ref int location, int value)
    {
        int current = Volatile.Read(ref location);
        while (value > current)
        {
            int seen = Interlocked.CompareExchange(ref location, value, current);
            if (seen == current)
            {
                return;
            }

            current = seen;
        }
    }
}
