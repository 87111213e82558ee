namespace Bulkhead.AspNetCore;

/// <summary>
/// When workload isolation reports Degraded or Unhealthy: the state of the class it protects (by default the most
/// important one), judged on the <see cref="TimeProvider"/> registered with the host.
/// </summary>
public sealed class WorkloadIsolationHealthCheckOptions
{
    /// <summary>Gets or sets the class watched, or <see langword="null"/> for the most important class in force.</summary>
    /// <value>The default value is <see langword="null"/>.</value>
    public string? ProtectedClass { get; set; }

    /// <summary>Gets or sets how long the class's oldest waiter may have waited before the check reports Degraded.</summary>
    /// <value>The default value is 1 second.</value>
    public TimeSpan MaxWaiterAge { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Gets or sets the window in which a rejection of the class makes the check report Degraded.</summary>
    /// <value>The default value is 30 seconds.</value>
    public TimeSpan Window { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Gets or sets how long the class must keep rejecting (a rejection in every window the check looked at) before the
    /// check reports Unhealthy.
    /// </summary>
    /// <value>The default value is 2 minutes.</value>
    public TimeSpan UnhealthyAfter { get; set; } = TimeSpan.FromMinutes(2);
}
