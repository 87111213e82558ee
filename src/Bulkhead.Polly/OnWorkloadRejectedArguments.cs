using Polly;

namespace Bulkhead.Polly;

/// <summary>
/// The arguments of <see cref="WorkloadIsolationStrategyOptions.OnRejected"/> and of the <c>OnWorkloadRejected</c>
/// telemetry event.
/// </summary>
/// <param name="context">The execution's context.</param>
/// <param name="workloadClass">The class that rejected the execution.</param>
/// <param name="reason">Why it was rejected.</param>
/// <param name="retryAfter">When to try again, if known.</param>
public readonly struct OnWorkloadRejectedArguments(ResilienceContext context, string workloadClass, WorkloadRejectionReason reason, TimeSpan? retryAfter)
{
    /// <summary>Gets the execution's context.</summary>
    public ResilienceContext Context { get; } = context;

    /// <summary>Gets the class that rejected the execution.</summary>
    public string WorkloadClass { get; } = workloadClass;

    /// <summary>Gets why the execution was rejected.</summary>
    public WorkloadRejectionReason Reason { get; } = reason;

    /// <summary>Gets when to try again, or <see langword="null"/> when unknown.</summary>
    public TimeSpan? RetryAfter { get; } = retryAfter;
}
