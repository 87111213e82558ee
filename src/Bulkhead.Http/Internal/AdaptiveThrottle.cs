using Bulkhead.Shared;

namespace Bulkhead.Http.Internal;

/// <summary>
/// The requests and accepts of one client's calls over a sliding window, and the probability with which the next call
/// is refused before it is sent.
/// </summary>
internal sealed class AdaptiveThrottle(WorkloadAdaptiveThrottlingOptions options, TimeProvider time, Func<double>? draw = null)
{
    private const int Requests = 0;
    private const int Accepts = 1;

    private readonly Lock _lock = new();
    private readonly SlidingWindowCounts _counts = new(kinds: 2, options.Window, time);
    private readonly double _multiplier = options.Multiplier;
    private readonly Func<double> _draw = draw ?? Random.Shared.NextDouble;

    /// <summary>Gets the probability with which the next call is refused here.</summary>
    public double RejectionProbability
    {
        get
        {
            lock (_lock)
            {
                return Probability();
            }
        }
    }

    /// <summary>Whether a call may be sent; one refused here counts as a request (one sent counts when it is, <see cref="Sent"/>).</summary>
    public bool TryAdmit()
    {
        lock (_lock)
        {
            double probability = Probability();
            if (probability <= 0 || _draw() >= probability)
            {
                return true;
            }

            _counts.Add(Requests);
            return false;
        }
    }

    /// <summary>Counts a call sent to the dependency.</summary>
    public void Sent()
    {
        lock (_lock)
        {
            _counts.Add(Requests);
        }
    }

    /// <summary>Counts a call the dependency accepted.</summary>
    public void Accepted()
    {
        lock (_lock)
        {
            _counts.Add(Accepts);
        }
    }

    private double Probability()
    {
        long requests = _counts.Count(Requests);
        return Math.Max(0, (requests - (_multiplier * _counts.Count(Accepts))) / (requests + 1));
    }
}
