using Microsoft.Extensions.Configuration;

namespace Bulkhead;

/// <summary>
/// The workload isolation configuration in force: the last one that passed validation and was applied to the engine.
/// Integration packages follow it, and check their own settings against it, so that they change together with the limits.
/// </summary>
/// <remarks>
/// Unlike <c>IOptionsMonitor&lt;WorkloadIsolationOptions&gt;</c>, an invalid configuration never shows here: it is
/// rejected whole, logged with every problem, and the configuration in force stays. Treat the options as read-only.
/// </remarks>
public interface IWorkloadIsolationMonitor
{
    /// <summary>Gets the configuration in force.</summary>
    WorkloadIsolationOptions CurrentValue { get; }

    /// <summary>
    /// Registers a listener called after each new configuration has been put in force.
    /// </summary>
    /// <param name="listener">Receives the configuration now in force.</param>
    /// <returns>A registration; dispose it to stop listening.</returns>
    IDisposable OnChange(Action<WorkloadIsolationOptions> listener);

    /// <summary>
    /// Registers a check that every new configuration must pass, beside the options' validators, before it is put in
    /// force. Integration packages check their own settings that name classes (Bulkhead.AspNetCore's request rules)
    /// against the classes of the same configuration: a reload that would break them is refused whole and logged, and
    /// the configuration in force stays.
    /// </summary>
    /// <param name="check">Returns the problems it finds with the configuration about to be put in force; none to let it pass.</param>
    /// <returns>A registration; dispose it to stop checking.</returns>
    IDisposable AddCheck(Func<WorkloadIsolationOptions, IReadOnlyCollection<string>> check);

    /// <summary>
    /// Gets the configuration section the options are bound from (the one given to <c>AddWorkloadIsolation</c>), or
    /// <see langword="null"/> when they are set in code only. Integration packages read their own part of it (the
    /// <c>Http</c> settings of Bulkhead.AspNetCore).
    /// </summary>
    IConfiguration? Configuration => null;
}
