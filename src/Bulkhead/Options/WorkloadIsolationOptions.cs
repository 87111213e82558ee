using System.ComponentModel.DataAnnotations;

namespace Bulkhead;

/// <summary>
/// The configuration of workload isolation for one host: its seats and its workload classes.
/// </summary>
/// <remarks>
/// Binds from configuration with the same names, for example the section <c>WorkloadIsolation</c> of appsettings.json.
/// With no class configured, a single class named <see cref="DefaultClass"/> with default limits takes all work.
/// </remarks>
public sealed class WorkloadIsolationOptions
{
    /// <summary>The largest number of seats a host may have.</summary>
    public const int MaxSeats = 1_000_000;

    /// <summary>
    /// Gets or sets the number of units of work the host runs at once, across all classes.
    /// </summary>
    /// <value>The default value is 64.</value>
    [Range(1, MaxSeats)]
    public int TotalConcurrency { get; set; } = 64;

    /// <summary>
    /// Gets or sets the class that takes work no rule or caller assigns to a class. It must be one of <see cref="Classes"/>
    /// when any class is configured.
    /// </summary>
    /// <value>The default value is <c>"default"</c>.</value>
    [Required]
    public string DefaultClass { get; set; } = "default";

    /// <summary>
    /// Gets or sets how many partitions each class tracks by key, for per-partition rate limits and fair queuing.
    /// Past it, queues of further keys share a fixed set of partitions by hash, and a new key's rate-limit bucket takes
    /// the place of the fullest of a few tracked ones, so memory stays bounded whatever the number of distinct keys.
    /// </summary>
    /// <value>The default value is 10,000.</value>
    [Range(1, 10_000_000)]
    public int MaxTrackedPartitions { get; set; } = 10_000;

    /// <summary>
    /// Gets or sets whether decisions are carried out (<see cref="WorkloadIsolationMode.Enforce"/>) or only computed and
    /// reported (<see cref="WorkloadIsolationMode.Observe"/>), for every class that does not set its own
    /// <see cref="WorkloadClassOptions.Mode"/>. Switching is a live reload.
    /// </summary>
    /// <value>The default value is <see cref="WorkloadIsolationMode.Enforce"/>.</value>
    public WorkloadIsolationMode Mode { get; set; }

    /// <summary>
    /// Gets the workload classes by name. Names are compared without regard to case.
    /// </summary>
    public IDictionary<string, WorkloadClassOptions> Classes { get; } =
        new Dictionary<string, WorkloadClassOptions>(StringComparer.OrdinalIgnoreCase);

    /// <summary>
    /// Gets or sets adaptive protection: the effective limits of less important classes follow the objectives of the
    /// classes that state one (<see cref="WorkloadClassOptions.Objective"/>). Off by default.
    /// </summary>
    public WorkloadAdaptiveOptions Adaptive { get; set; } = new();

    /// <summary>
    /// Gets or sets how the process's CPU utilization and memory load are read for the classes that shed under
    /// pressure (<see cref="WorkloadClassOptions.Shed"/>). Nothing is read while no class sheds.
    /// </summary>
    public WorkloadPressureOptions Pressure { get; set; } = new();

    /// <summary>
    /// Adds a workload class, or configures it further when it exists.
    /// </summary>
    /// <param name="name">The class name, compared without regard to case.</param>
    /// <param name="configure">Sets the class's limits.</param>
    /// <returns>These options, for chaining.</returns>
    public WorkloadIsolationOptions AddClass(string name, Action<WorkloadClassOptions>? configure = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);

        if (!Classes.TryGetValue(name, out WorkloadClassOptions? options))
        {
            options = new WorkloadClassOptions();
            Classes.Add(name, options);
        }

        configure?.Invoke(options);
        return this;
    }
}
