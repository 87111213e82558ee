namespace Bulkhead.Http.Internal;

/// <summary>
/// The requests and accepts of one client's calls over a sliding window (sixty slots of the window's sixtieth), and the
/// probability with which the next call is refused before it is sent.
/// </summary>
internal sealed class AdaptiveThrottle(WorkloadAdaptiveThrottlingOptions options, TimeProvider time, Func<double>? draw = null)
{
    private const int Slots = 60;

    private readonly Lock _lock = new();
    private readonly long[] _requests = new long[Slots];
    private readonly long[] _accepts = new long[Slots];
    private readonly long[] _slotOf = new long[Slots];
    private readonly double _multiplier = options.Multiplier;
    private readonly long _slotLength = Math.Max(1, (long)(options.Window.TotalSeconds * time.TimestampFrequency / Slots));
    private readonly Func<double> _draw = draw ?? Random.Shared.NextDouble;
    private long _requestsInWindow;
    private long _acceptsInWindow;

    /// <summary>Gets the probability with which the next call is refused here.</summary>
    public double RejectionProbability
    {
        get
        {
            lock (_lock)
            {
                Advance();
                return Probability();
            }
        }
    }

    /// <summary>Whether a call may be sent; one refused here counts as a request (one sent counts when it is, <see cref="Sent"/>).</summary>
    public bool TryAdmit()
    {
        lock (_lock)
        {
            long slot = Advance();
            double probability = Probability();
            if (probability <= 0 || _draw() >= probability)
            {
                return true;
            }

            CountRequest(slot);
            return false;
        }
    }

    /// <summary>Counts a call sent to the dependency.</summary>
    public void Sent()
    {
        lock (_lock)
        {
            CountRequest(Advance());
        }
    }

    private void CountRequest(long slot)
    {
        _requests[slot % Slots]++;
        _requestsInWindow++;
    }

    /// <summary>Counts a call the dependency accepted.</summary>
    public void Accepted()
    {
        lock (_lock)
        {
            long slot = Advance();
            _accepts[slot % Slots]++;
            _acceptsInWindow++;
        }
    }

    private double Probability() => Math.Max(0, (_requestsInWindow - (_multiplier * _acceptsInWindow)) / (_requestsInWindow + 1));

    /// <summary>Forgets the slots that left the window; returns the current slot.</summary>
    private long Advance()
    {
        long slot = time.GetTimestamp() / _slotLength;
        int index = (int)(slot % Slots);
        if (_slotOf[index] != slot)
        {
            // Every slot older than the window is emptied as time reaches its place in the ring.
            for (int i = 0; i < Slots; i++)
            {
                if (_slotOf[i] <= slot - Slots || (i == index && _slotOf[i] != slot))
                {
                    _requestsInWindow -= _requests[i];
                    _acceptsInWindow -= _accepts[i];
                    _requests[i] = 0;
                    _accepts[i] = 0;
                    _slotOf[i] = i == index ? slot : _slotOf[i];
                }
            }

            _slotOf[index] = slot;
        }

        return slot;
    }
}
