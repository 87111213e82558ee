using System.Globalization;

namespace Bulkhead;

/// <summary>
/// Thrown by <see cref="IWorkloadScheduler.RunAsync(string, Func{CancellationToken, ValueTask}, string?, CancellationToken)"/>
/// when the work is not admitted to its workload class.
/// </summary>
public sealed class WorkloadRejectedException : Exception
{
    /// <summary>
    /// Initializes a new instance of the <see cref="WorkloadRejectedException"/> class.
    /// </summary>
    public WorkloadRejectedException()
        : this("The work was not admitted to its workload class.")
    {
    }

    /// <summary>
    /// Initializes a new instance of the <see cref="WorkloadRejectedException"/> class with a message.
    /// </summary>
    /// <param name="message">The message.</param>
    public WorkloadRejectedException(string message)
        : base(message)
    {
        WorkloadClass = string.Empty;
    }

    /// <summary>
    /// Initializes a new instance of the <see cref="WorkloadRejectedException"/> class with a message and an inner exception.
    /// </summary>
    /// <param name="message">The message.</param>
    /// <param name="innerException">The exception that caused this one.</param>
    public WorkloadRejectedException(string message, Exception? innerException)
        : base(message, innerException)
    {
        WorkloadClass = string.Empty;
    }

    /// <summary>
    /// Initializes a new instance of the <see cref="WorkloadRejectedException"/> class for a rejected unit of work.
    /// </summary>
    /// <param name="workloadClass">The class that rejected the work.</param>
    /// <param name="reason">Why the work was rejected.</param>
    /// <param name="retryAfter">When it makes sense to try again, if known.</param>
    public WorkloadRejectedException(string workloadClass, WorkloadRejectionReason reason, TimeSpan? retryAfter)
        : base(FormatMessage(workloadClass, reason, retryAfter))
    {
        WorkloadClass = workloadClass;
        Reason = reason;
        RetryAfter = retryAfter;
    }

    /// <summary>Gets the workload class that rejected the work.</summary>
    public string WorkloadClass { get; }

    /// <summary>Gets why the work was rejected.</summary>
    public WorkloadRejectionReason Reason { get; }

    /// <summary>Gets when it makes sense to try again, or <see langword="null"/> when no estimate is known.</summary>
    public TimeSpan? RetryAfter { get; }

    private static string FormatMessage(string workloadClass, WorkloadRejectionReason reason, TimeSpan? retryAfter) =>
        retryAfter is { } delay
            ? string.Create(CultureInfo.InvariantCulture, $"Workload class '{workloadClass}' rejected the work: {reason}. Retry after {delay}.")
            : string.Create(CultureInfo.InvariantCulture, $"Workload class '{workloadClass}' rejected the work: {reason}.");
}
