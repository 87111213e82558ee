using System.ComponentModel.DataAnnotations;

namespace Bulkhead;

/// <summary>A class's job queue: how many items it holds and what happens when it is full.</summary>
public sealed class WorkloadJobQueueOptions
{
    /// <summary>Gets or sets how many items may wait in the class's job queue.</summary>
    /// <value>The default value is 1,000.</value>
    [Range(1, int.MaxValue)]
    public int Capacity { get; set; } = 1_000;

    /// <summary>Gets or sets what enqueuing does when the queue is full.</summary>
    /// <value>The default value is <see cref="WorkloadJobFullMode.Wait"/>.</value>
    public WorkloadJobFullMode FullMode { get; set; } = WorkloadJobFullMode.Wait;
}
