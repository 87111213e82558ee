namespace Bulkhead;

/// <summary>
/// The state of every workload class at one moment, from <see cref="IWorkloadScheduler.GetSnapshot"/>.
/// </summary>
public sealed class WorkloadSnapshot
{
    /// <summary>
    /// Initializes a new instance of the <see cref="WorkloadSnapshot"/> class.
    /// </summary>
    /// <param name="classes">The state of each class, most important first.</param>
    public WorkloadSnapshot(IReadOnlyList<WorkloadClassSnapshot> classes)
    {
        ArgumentNullException.ThrowIfNull(classes);
        Classes = classes;
    }

    /// <summary>Gets the state of each class, most important first.</summary>
    public IReadOnlyList<WorkloadClassSnapshot> Classes { get; }

    /// <summary>
    /// Gets how many units of work, asked of a class through a handle held while the class was removed from the
    /// configuration, ran in the default class instead (since start).
    /// </summary>
    public long RemovedClassFallbacks { get; init; }

    /// <summary>
    /// Gets how many units of work named a class that is not configured and ran in the default class instead, as the
    /// ASP.NET Core middleware counted them, since start.
    /// </summary>
    public long UnknownClassFallbacks { get; init; }

    /// <summary>
    /// Gets how many requests the ASP.NET Core middleware let through exempt, without a seat, since start.
    /// </summary>
    public long Exempt { get; init; }

    /// <summary>Gets the seats every class may share (the total concurrency less every reservation).</summary>
    public int SharedPool { get; init; }

    /// <summary>Gets the shared seats in use.</summary>
    public int SharedInUse { get; init; }

    /// <summary>
    /// Gets the process's ThreadPool delay objective (<see cref="WorkloadAdaptiveOptions.ThreadPoolDelayP99"/>) while
    /// adaptive protection runs, or <see langword="null"/>.
    /// </summary>
    public TimeSpan? ThreadPoolDelayObjective { get; init; }

    /// <summary>
    /// Gets the 99th percentile of ThreadPool queueing delay the adaptive controller measured in the last window that had
    /// enough probes, while the process has a ThreadPool delay objective; <see langword="null"/> otherwise.
    /// </summary>
    public TimeSpan? MeasuredThreadPoolDelayP99 { get; init; }

    /// <summary>
    /// Gets the process's CPU utilization and memory load as last read, while a class sheds under pressure
    /// (<see cref="WorkloadClassOptions.Shed"/>); <see langword="null"/> when nothing reads them.
    /// </summary>
    public WorkloadPressureReading? Pressure { get; init; }

    /// <summary>
    /// Gets the state of a class by name, compared without regard to case.
    /// </summary>
    /// <param name="workloadClass">The class name.</param>
    /// <returns>The class's state.</returns>
    /// <exception cref="KeyNotFoundException">No class has that name.</exception>
    public WorkloadClassSnapshot this[string workloadClass] =>
        Classes.FirstOrDefault(c => string.Equals(c.Name, workloadClass, StringComparison.OrdinalIgnoreCase))
        ?? throw new KeyNotFoundException($"No workload class is named '{workloadClass}'.");
}
