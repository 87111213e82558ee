using System.Diagnostics.Metrics;
using Bulkhead.Shared;

namespace Bulkhead.Polly;

/// <summary>
/// A retry budget (as in Finagle and Linkerd): retries as a share of the calls made to one dependency, with a minimum,
/// shared by every retry policy that calls it. While a dependency fails, retries beyond the budget are not made: the
/// caller gets the dependency's own failure at once instead of multiplying the load that made it fail. Use one budget
/// per dependency, with <c>RetryStrategyOptions.WithRetryBudget</c> in each pipeline that calls it.
/// </summary>
/// <remarks>
/// Metrics (meter <see cref="WorkloadIsolationTelemetry.MeterName"/>, when an <see cref="IMeterFactory"/> is given):
/// <c>bulkhead.retry_budget.retries</c> and <c>bulkhead.retry_budget.refused</c>, tagged <c>bulkhead.retry_budget</c>.
/// </remarks>
public sealed class WorkloadRetryBudget
{
    private const int Calls = 0;
    private const int Retries = 1;

    private readonly Lock _lock = new();
    private readonly SlidingWindowCounts _counts;
    private readonly double _ratio;
    private readonly double _minimum;
    private readonly Counter<long>? _retries;
    private readonly Counter<long>? _refused;
    private readonly KeyValuePair<string, object?> _tag;

    /// <summary>Initializes a new instance of the <see cref="WorkloadRetryBudget"/> class.</summary>
    /// <param name="name">The budget's name, usually the dependency's (its workload class); it tags the metrics.</param>
    /// <param name="options">How many retries the budget allows.</param>
    /// <param name="timeProvider">The clock of the window; <see cref="TimeProvider.System"/> when <see langword="null"/>.</param>
    /// <param name="meterFactory">Where the budget's counters are created; none when <see langword="null"/>.</param>
    /// <exception cref="ArgumentException">The options are out of range; the message names the budget and the value.</exception>
    public WorkloadRetryBudget(string name, WorkloadRetryBudgetOptions options, TimeProvider? timeProvider = null, IMeterFactory? meterFactory = null)
    {
        Validate(name, options);
        Name = name;
        _ratio = options.RetryRatio;
        _minimum = options.MinRetriesPerSecond * options.Window.TotalSeconds;
        _counts = new SlidingWindowCounts(kinds: 2, options.Window, timeProvider ?? TimeProvider.System);
        _tag = new("bulkhead.retry_budget", name);
        if (meterFactory?.Create(WorkloadIsolationTelemetry.MeterName) is { } meter)
        {
            _retries = meter.CreateCounter<long>("bulkhead.retry_budget.retries", "{retry}", "Retries a retry budget allowed.");
            _refused = meter.CreateCounter<long>("bulkhead.retry_budget.refused", "{retry}", "Retries a retry budget refused: the caller got the failure at once.");
        }
    }

    /// <summary>Throws, naming the budget and the value, when its options are out of range.</summary>
    internal static void Validate(string name, WorkloadRetryBudgetOptions options)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentNullException.ThrowIfNull(options);
        if (options.RetryRatio < 0 || !double.IsFinite(options.RetryRatio) || options.MinRetriesPerSecond < 0 || options.Window < TimeSpan.FromSeconds(1))
        {
            throw new ArgumentException(
                $"Retry budget '{name}' needs a RetryRatio of at least 0 (it is {options.RetryRatio}), MinRetriesPerSecond of at least 0 (it is {options.MinRetriesPerSecond}) and a Window of at least a second (it is {options.Window}).",
                nameof(options));
        }
    }

    /// <summary>Gets the budget's name.</summary>
    public string Name { get; }

    /// <summary>Counts a call: the first attempt of an operation, which earns <see cref="WorkloadRetryBudgetOptions.RetryRatio"/> of a retry.</summary>
    public void RecordCall()
    {
        lock (_lock)
        {
            _counts.Add(Calls);
        }
    }

    /// <summary>Spends a retry if the budget has one: <see langword="true"/> to retry, <see langword="false"/> to give the caller the failure it has.</summary>
    /// <returns>Whether the retry may be made.</returns>
    public bool TryRetry()
    {
        bool allowed;
        lock (_lock)
        {
            allowed = _counts.Count(Retries) < _minimum + (_ratio * _counts.Count(Calls));
            if (allowed)
            {
                _counts.Add(Retries);
            }
        }

        (allowed ? _retries : _refused)?.Add(1, _tag);
        return allowed;
    }
}
