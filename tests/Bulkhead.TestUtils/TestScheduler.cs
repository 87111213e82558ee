using System.Diagnostics.CodeAnalysis;
using System.Diagnostics.Metrics;
using System.Threading.RateLimiting;
using Bulkhead.Admission.Internal;
using Microsoft.Extensions.Logging;

namespace Bulkhead.TestUtils;

/// <summary>
/// The one door from behaviour tests to the scheduler: it builds one as <c>AddWorkloadIsolation</c> does, without a
/// service container, on the clock a test gives, and puts new options in force as a configuration reload does. Every
/// other member is the public <see cref="IWorkloadScheduler"/> and <see cref="IWorkloadIsolationMonitor"/>, so a test
/// written against it does not change when the engine's inside does.
/// </summary>
public sealed class TestScheduler : IWorkloadScheduler, IWorkloadIsolationMonitor, IDisposable
{
    private readonly WorkloadScheduler _inner;

    private TestScheduler(WorkloadScheduler inner) => _inner = inner;

    /// <inheritdoc />
    public WorkloadClass DefaultClass => _inner.DefaultClass;

    /// <inheritdoc />
    public WorkloadIsolationOptions CurrentValue => _inner.CurrentValue;

    /// <summary>Builds a scheduler for <paramref name="options"/>, which must be valid (as the options validator checks them).</summary>
    /// <param name="options">The configuration in force at start.</param>
    /// <param name="time">The clock; the system's when none is given.</param>
    /// <param name="logger">Where the scheduler logs; nowhere when none is given.</param>
    /// <param name="meterFactory">Where its instruments are created; none when none is given.</param>
    /// <param name="fleet">The fleet limiter factory, as <c>AddRedisFleetLimits</c> registers one.</param>
    /// <param name="limiters">Rate limiters registered per class with <c>AddWorkloadRateLimiter</c>.</param>
    public static TestScheduler Create(
        WorkloadIsolationOptions options,
        TimeProvider? time = null,
        ILogger? logger = null,
        IMeterFactory? meterFactory = null,
        IWorkloadFleetLimiterFactory? fleet = null,
        IReadOnlyDictionary<string, PartitionedRateLimiter<string>>? limiters = null) =>
        new(new WorkloadScheduler(options, time ?? TimeProvider.System, limiters, fleet, logger, meterFactory));

    /// <summary>Puts validated options in force and tells the listeners, as a configuration reload does.</summary>
    public void Apply(WorkloadIsolationOptions options) => _inner.Apply(options);

    /// <summary>Reloads as a configuration change does: builds the options, runs the checks, and puts them in force if all pass.</summary>
    public bool Reload(Microsoft.Extensions.Options.IOptionsFactory<WorkloadIsolationOptions> factory) => _inner.Reload(factory);

    /// <summary>Starts keeping the last 15 minutes of samples, as <c>MapWorkloadIsolationDiagnostics</c> does.</summary>
    public void KeepHistory() => _inner.History.Start();

    /// <inheritdoc />
    public IDisposable OnChange(Action<WorkloadIsolationOptions> listener) => _inner.OnChange(listener);

    public IDisposable AddCheck(Func<WorkloadIsolationOptions, IReadOnlyCollection<string>> check) => _inner.AddCheck(check);

    /// <inheritdoc />
    public WorkloadLease TryAcquire(string workloadClass, string? partition = null) => _inner.TryAcquire(workloadClass, partition);

    /// <inheritdoc />
    public ValueTask<WorkloadLease> AcquireAsync(string workloadClass, string? partition = null, CancellationToken cancellationToken = default) =>
        _inner.AcquireAsync(workloadClass, partition, cancellationToken);

    /// <inheritdoc />
    public Task RunAsync(string workloadClass, Func<CancellationToken, ValueTask> work, string? partition = null, CancellationToken cancellationToken = default) =>
        _inner.RunAsync(workloadClass, work, partition, cancellationToken);

    /// <inheritdoc />
    public Task<T> RunAsync<T>(string workloadClass, Func<CancellationToken, ValueTask<T>> work, string? partition = null, CancellationToken cancellationToken = default) =>
        _inner.RunAsync(workloadClass, work, partition, cancellationToken);

    /// <inheritdoc />
    public WorkloadClass GetClass(string workloadClass) => _inner.GetClass(workloadClass);

    /// <inheritdoc />
    public bool TryGetClass(string? workloadClass, [NotNullWhen(true)] out WorkloadClass? handle) => _inner.TryGetClass(workloadClass, out handle);

    /// <inheritdoc />
    public WorkloadSnapshot GetSnapshot() => _inner.GetSnapshot();

    /// <inheritdoc />
    public void Dispose() => _inner.Dispose();
}
