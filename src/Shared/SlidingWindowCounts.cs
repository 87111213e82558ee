namespace Bulkhead.Shared;

/// <summary>
/// Counts of a few kinds of events over a sliding window: sixty slots of the window's sixtieth each, a slot emptied as
/// time comes back to its place in the ring. Not synchronized: its owner calls it under its own lock.
/// </summary>
internal sealed class SlidingWindowCounts
{
    private const int Slots = 60;

    private readonly TimeProvider _time;
    private readonly long _slotLength;
    private readonly long[][] _counts;
    private readonly long[] _totals;
    private readonly long[] _slotOf = new long[Slots];

    public SlidingWindowCounts(int kinds, TimeSpan window, TimeProvider time)
    {
        _time = time;
        _slotLength = Math.Max(1, (long)(window.TotalSeconds * time.TimestampFrequency / Slots));
        _counts = [.. Enumerable.Range(0, kinds).Select(_ => new long[Slots])];
        _totals = new long[kinds];
    }

    /// <summary>Gets the events of a kind in the window that ends now.</summary>
    public long Count(int kind)
    {
        Advance();
        return _totals[kind];
    }

    /// <summary>Counts one event of a kind, now.</summary>
    public void Add(int kind)
    {
        long slot = Advance();
        _counts[kind][slot % Slots]++;
        _totals[kind]++;
    }

    /// <summary>Forgets the slots that left the window; returns the current slot.</summary>
    private long Advance()
    {
        long slot = _time.GetTimestamp() / _slotLength;
        int index = (int)(slot % Slots);
        if (_slotOf[index] != slot)
        {
            // Every slot older than the window is emptied as time reaches its place in the ring.
            for (int i = 0; i < Slots; i++)
            {
                if (_slotOf[i] <= slot - Slots || (i == index && _slotOf[i] != slot))
                {
                    for (int kind = 0; kind < _totals.Length; kind++)
                    {
                        _totals[kind] -= _counts[kind][i];
                        _counts[kind][i] = 0;
                    }

                    _slotOf[i] = i == index ? slot : _slotOf[i];
                }
            }

            _slotOf[index] = slot;
        }

        return slot;
    }
}
