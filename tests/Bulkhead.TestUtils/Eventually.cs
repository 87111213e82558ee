namespace Bulkhead.TestUtils;

/// <summary>
/// Waits, bounded, for something another thread makes true (a request reaching a queue, a server noticing a
/// disconnect). Fails with <see cref="TimeoutException"/> instead of hanging.
/// </summary>
public static class Eventually
{
    /// <summary>Polls <paramref name="condition"/> until it holds, for at most <see cref="TaskTimeout.Bound"/>.</summary>
    public static Task TrueAsync(Func<bool> condition, string what) => TrueAsync(condition, what, TaskTimeout.Bound);

    /// <summary>Polls <paramref name="condition"/> until it holds, for at most <paramref name="bound"/>.</summary>
    public static async Task TrueAsync(Func<bool> condition, string what, TimeSpan bound)
    {
        ArgumentNullException.ThrowIfNull(condition);
        using var timeout = new CancellationTokenSource(bound);
        while (!condition())
        {
            if (timeout.IsCancellationRequested)
            {
                throw new TimeoutException($"Timed out waiting until {what}.");
            }

            await Task.Delay(5, CancellationToken.None);
        }
    }
}
