using Quartz;

namespace Bulkhead.Quartz;

/// <summary>
/// How Quartz jobs are put in workload classes: a job's class is, in order, the one its key names in
/// <see cref="ClassesByJob"/>, its type's <see cref="WorkloadClassAttribute"/>, the one its group names in
/// <see cref="ClassesByGroup"/>, <see cref="DefaultClass"/>, and the scheduler's default class. See docs/consumers.md.
/// </summary>
public sealed class WorkloadIsolationQuartzOptions
{
    /// <summary>Gets the class of each job named here, by its key (<c>group.name</c>, as a <see cref="JobKey"/> is written).</summary>
    public IDictionary<string, string> ClassesByJob { get; } = new Dictionary<string, string>(StringComparer.Ordinal);

    /// <summary>Gets the class of the jobs of each group named here.</summary>
    public IDictionary<string, string> ClassesByGroup { get; } = new Dictionary<string, string>(StringComparer.Ordinal);

    /// <summary>Gets or sets the class of a job nothing else names; <see langword="null"/> for the scheduler's default class.</summary>
    /// <value>The default value is <see langword="null"/>.</value>
    public string? DefaultClass { get; set; }

    /// <summary>Gets or sets a delegate that returns a firing's partition key (a tenant), or <see langword="null"/>.</summary>
    /// <value>The default value is <see langword="null"/>: no partition.</value>
    public Func<IJobExecutionContext, string?>? PartitionKey { get; set; }
}
