namespace Bulkhead;

/// <summary>
/// The unit of work the current code runs for: its workload class and, when its caller set one, the deadline after
/// which nobody waits for its result. It flows with the code (an <see cref="AsyncLocal{T}"/>, as
/// <see cref="System.Diagnostics.Activity.Current"/> does), so that an outgoing call made by a report can say so to the
/// next service, which then runs it as a report and refuses it once its caller has given up.
/// </summary>
/// <remarks>
/// Bulkhead.AspNetCore sets it for each request when propagation is on (<c>Http:Propagation:Enabled</c>), job queue
/// items and wrapped hosted services run with their class as current, and Bulkhead.Http's <c>AddWorkloadPropagation</c>
/// sends it with a client's calls. Other work that should carry its class sets it itself:
/// <c>WorkloadContext.Current = new("batch")</c>. Setting it costs an allocation of the execution context (as any
/// <see cref="AsyncLocal{T}"/> write), which is why requests do it only when propagation is on.
/// </remarks>
/// <param name="workloadClass">The workload class the work runs in.</param>
/// <param name="deadline">When its caller stops waiting for it, or <see langword="null"/>.</param>
public sealed class WorkloadContext(string workloadClass, DateTimeOffset? deadline = null)
{
    private static readonly AsyncLocal<WorkloadContext?> s_current = new();

    /// <summary>Gets or sets the unit of work the current code runs for, or <see langword="null"/> when none says so.</summary>
    public static WorkloadContext? Current
    {
        get => s_current.Value;
        set => s_current.Value = value;
    }

    /// <summary>Gets the workload class the work runs in.</summary>
    public string WorkloadClass { get; } = string.IsNullOrWhiteSpace(workloadClass)
        ? throw new ArgumentException("A workload context names the class its work runs in.", nameof(workloadClass))
        : workloadClass;

    /// <summary>Gets when the work's caller stops waiting for it, or <see langword="null"/> for no deadline.</summary>
    public DateTimeOffset? Deadline { get; } = deadline;
}
