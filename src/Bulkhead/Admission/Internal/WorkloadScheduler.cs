using System.Diagnostics.CodeAnalysis;
using System.Threading.RateLimiting;
using System.Diagnostics.Metrics;
using Bulkhead.Adaptive.Internal;
using Bulkhead.Pressure.Internal;
using Bulkhead.Telemetry.Internal;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Primitives;
using Microsoft.Extensions.Configuration;

namespace Bulkhead.Admission.Internal;

/// <summary>
/// The <see cref="IWorkloadScheduler"/> registered in DI: resolves class names to handles over the admission engine,
/// and keeps the engine's configuration in step with the options as they reload.
/// </summary>
internal sealed partial class WorkloadScheduler : IWorkloadScheduler, IWorkloadIsolationMonitor, IDisposable
{
    private readonly Lock _listenersLock = new();
    private readonly Lock _reloadLock = new();
    private readonly List<IDisposable> _subscriptions = [];
    private readonly ILogger _logger;
    private readonly FrontEndCounters _frontEnd;
    private readonly JobCounters? _jobs;
    private WorkloadIsolationOptions _current;
    private Action<WorkloadIsolationOptions>[] _listeners = [];
    private Func<WorkloadIsolationOptions, IReadOnlyCollection<string>>[] _checks = [];

    public WorkloadScheduler(
        WorkloadIsolationOptions options,
        TimeProvider timeProvider,
        IReadOnlyDictionary<string, PartitionedRateLimiter<string>>? limiters = null,
        IWorkloadFleetLimiterFactory? fleet = null,
        ILogger? logger = null,
        IMeterFactory? meterFactory = null,
        FrontEndCounters? frontEnd = null,
        JobCounters? jobs = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        _logger = logger ?? NullLogger.Instance;
        _frontEnd = frontEnd ?? new FrontEndCounters();
        _jobs = jobs;
        // The instruments first: each class learns at its creation whether its leases' seat times are metered.
        WorkloadIsolationMetrics? metrics = meterFactory is null ? null : new WorkloadIsolationMetrics(meterFactory.Create(WorkloadIsolationTelemetry.MeterName), GetSnapshot);
        Engine = new AdmissionEngine(options, timeProvider, limiters, _logger, fleet, metrics);
        Adaptive = new AdaptiveController(Engine, _logger);
        Adaptive.Configure(options);
        Pressure = new PressureMonitor(Engine, _logger);
        Pressure.Configure(options);

        _current = options;
        History = new WorkloadHistory(this);
    }

    public AdmissionEngine Engine { get; }

    /// <summary>Gets the last 15 minutes of every class, kept once something (the dashboard) starts it.</summary>
    public WorkloadHistory History { get; }

    /// <summary>Gets the adaptive protection controller (idle unless the options enable it).</summary>
    public AdaptiveController Adaptive { get; }

    /// <summary>Gets the pressure monitor, which sheds classes under pressure (idle unless a class has a <c>Shed</c> rule).</summary>
    public PressureMonitor Pressure { get; }

    public WorkloadIsolationOptions CurrentValue => Volatile.Read(ref _current);

    /// <inheritdoc />
    public IConfiguration? Configuration { get; init; }

    WorkloadClass IWorkloadScheduler.DefaultClass => Engine.DefaultClass;

    public ClassState DefaultClass => Engine.DefaultClass;

    /// <summary>
    /// Follows the options' change tokens (a reloaded appsettings.json, any <see cref="IOptionsChangeTokenSource{TOptions}"/>):
    /// each change builds the options anew and, when they pass validation, puts them in force; otherwise it logs
    /// every problem and keeps the configuration in force.
    /// </summary>
    public void Watch(IOptionsFactory<WorkloadIsolationOptions> factory, IEnumerable<IOptionsChangeTokenSource<WorkloadIsolationOptions>> sources)
    {
        foreach (IOptionsChangeTokenSource<WorkloadIsolationOptions> source in sources)
        {
            if (source.Name is null || source.Name == Microsoft.Extensions.Options.Options.DefaultName)
            {
                _subscriptions.Add(ChangeToken.OnChange(source.GetChangeToken, () => Reload(factory)));
            }
        }
    }

    /// <summary>Builds the options anew and puts them in force if they are valid.</summary>
    public bool Reload(IOptionsFactory<WorkloadIsolationOptions> factory)
    {
        WorkloadIsolationOptions options;
        try
        {
            options = factory.Create(Microsoft.Extensions.Options.Options.DefaultName);
        }
        catch (OptionsValidationException exception)
        {
            LogRejected(_logger, exception.Failures.Count(), string.Join(Environment.NewLine, exception.Failures));
            return false;
        }
        catch (Exception exception) when (exception is InvalidOperationException or FormatException or OverflowException or ArgumentException)
        {
            // The binder could not read a value: the configuration is not valid either.
            LogRejected(_logger, 1, exception.Message);
            return false;
        }
        catch (Exception exception) when (exception is not OutOfMemoryException)
        {
            // A reload runs on a change token's callback: whatever a user's configure step throws, the host keeps
            // running on the configuration in force.
            LogReloadFailed(_logger, exception);
            return false;
        }

        List<string> failures = [];
        foreach (Func<WorkloadIsolationOptions, IReadOnlyCollection<string>> check in Volatile.Read(ref _checks))
        {
            failures.AddRange(check(options));
        }

        if (failures.Count > 0)
        {
            LogRejected(_logger, failures.Count, string.Join(Environment.NewLine, failures));
            return false;
        }

        Apply(options);
        return true;
    }

    /// <inheritdoc />
    public IDisposable AddCheck(Func<WorkloadIsolationOptions, IReadOnlyCollection<string>> check)
    {
        ArgumentNullException.ThrowIfNull(check);
        lock (_listenersLock)
        {
            _checks = [.. _checks, check];
        }

        return new CheckRegistration(this, check);
    }

    /// <summary>Puts validated options in force and tells the listeners.</summary>
    public void Apply(WorkloadIsolationOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        lock (_reloadLock)
        {
            foreach (string note in Engine.Reconfigure(options))
            {
                LogNotLive(_logger, note);
            }

            Adaptive.Configure(options);
            Pressure.Configure(options);

            Volatile.Write(ref _current, options);
        }

        LogApplied(_logger, options.TotalConcurrency, string.Join(", ", Engine.Configuration.Active.Select(c => c.Name)));
        foreach (Action<WorkloadIsolationOptions> listener in Volatile.Read(ref _listeners))
        {
            listener(options);
        }
    }

    public IDisposable OnChange(Action<WorkloadIsolationOptions> listener)
    {
        ArgumentNullException.ThrowIfNull(listener);
        lock (_listenersLock)
        {
            _listeners = [.. _listeners, listener];
        }

        return new Subscription(this, listener);
    }

    public WorkloadClass GetClass(string workloadClass) => Resolve(workloadClass);

    public bool TryGetClass(string? workloadClass, [NotNullWhen(true)] out WorkloadClass? handle)
    {
        bool found = TryResolve(workloadClass, out ClassState? c);
        handle = c;
        return found;
    }

    public WorkloadLease TryAcquire(string workloadClass, string? partition = null) =>
        Engine.TryAcquire(Resolve(workloadClass), partition);

    public ValueTask<WorkloadLease> AcquireAsync(string workloadClass, string? partition = null, CancellationToken cancellationToken = default) =>
        Engine.AcquireAsync(Resolve(workloadClass), partition, WaitMode.Queue, weight: 1, cancellationToken);

    public Task RunAsync(string workloadClass, Func<CancellationToken, ValueTask> work, string? partition = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(work);
        return RunCoreAsync(Resolve(workloadClass), work, partition, cancellationToken);
    }

    public Task<T> RunAsync<T>(string workloadClass, Func<CancellationToken, ValueTask<T>> work, string? partition = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(work);
        return RunCoreAsync(Resolve(workloadClass), work, partition, cancellationToken);
    }

    public WorkloadSnapshot GetSnapshot() => new(Engine.GetSnapshot(_jobs))
    {
        RemovedClassFallbacks = Volatile.Read(ref Engine.RemovedClassFallbacks),
        UnknownClassFallbacks = _frontEnd.UnknownClassFallbacks,
        Exempt = _frontEnd.Exempt,
        SharedPool = Engine.SharedPool,
        SharedInUse = Engine.SharedInUse,
        ThreadPoolDelayObjective = CurrentValue.Adaptive is { Enabled: true, ThreadPoolDelayP99: { } objective } ? objective : null,
        MeasuredThreadPoolDelayP99 = Adaptive.ThreadPoolDelayP99,
        Pressure = Pressure.LastReading,
    };

    public void Dispose()
    {
        foreach (IDisposable subscription in _subscriptions)
        {
            subscription.Dispose();
        }

        History.Dispose();
        Pressure.Dispose();
        Adaptive.Dispose();
        Engine.Dispose();
    }

    /// <summary>
    /// Finds a configured class by name: by reference first (names usually come from the same constants that
    /// configured them), then without regard to case.
    /// </summary>
    public bool TryResolve(string? workloadClass, [NotNullWhen(true)] out ClassState? found)
    {
        EngineConfiguration configuration = Engine.Configuration;
        foreach (ClassState c in configuration.Active)
        {
            if (ReferenceEquals(c.Name, workloadClass))
            {
                found = c;
                return true;
            }
        }

        found = null;
        return workloadClass is not null && configuration.ActiveByName.TryGetValue(workloadClass, out found);
    }

    public ClassState Resolve(string workloadClass)
    {
        ArgumentNullException.ThrowIfNull(workloadClass);
        if (TryResolve(workloadClass, out ClassState? found))
        {
            return found;
        }

        throw new ArgumentException(
            $"'{workloadClass}' is not a configured workload class. Configured classes: {string.Join(", ", Engine.Configuration.Active.Select(c => $"'{c.Name}'"))}.",
            nameof(workloadClass));
    }

    private static async Task RunCoreAsync(ClassState c, Func<CancellationToken, ValueTask> work, string? partition, CancellationToken cancellationToken)
    {
        WorkloadLease lease = await c.AcquireAsync(partition, cancellationToken).ConfigureAwait(false);
        ThrowIfRejected(lease);
        await c.ExecuteAsync(lease, static (work, token) => ((Func<CancellationToken, ValueTask>)work!)(token).AsTask(), work, cancellationToken).ConfigureAwait(false);
    }

    private static async Task<T> RunCoreAsync<T>(ClassState c, Func<CancellationToken, ValueTask<T>> work, string? partition, CancellationToken cancellationToken)
    {
        WorkloadLease lease = await c.AcquireAsync(partition, cancellationToken).ConfigureAwait(false);
        ThrowIfRejected(lease);
        return await c.ExecuteAsync(lease, static (work, token) => ((Func<CancellationToken, ValueTask<T>>)work!)(token).AsTask(), work, cancellationToken).ConfigureAwait(false);
    }

    private static void ThrowIfRejected(WorkloadLease lease)
    {
        if (!lease.IsAcquired)
        {
            throw new WorkloadRejectedException(lease.WorkloadClass, lease.RejectionReason!.Value, lease.RetryAfter);
        }
    }

    private void Unsubscribe(Action<WorkloadIsolationOptions> listener)
    {
        lock (_listenersLock)
        {
            _listeners = [.. _listeners.Where(l => l != listener)];
        }
    }

    [LoggerMessage(30, LogLevel.Error, "Workload isolation kept its configuration: the new one has {Count} problem(s):\n{Failures}")]
    private static partial void LogRejected(ILogger logger, int count, string failures);

    [LoggerMessage(33, LogLevel.Error, "Workload isolation kept its configuration: building the new one failed.")]
    private static partial void LogReloadFailed(ILogger logger, Exception exception);

    /// <summary>Says, at start-up, when no class is configured: every unit of work then runs in one class, with no isolation.</summary>
    internal void WarnIfNoClasses()
    {
        WorkloadIsolationOptions options = CurrentValue;
        if (options.Classes.Count == 0)
        {
            string source = Configuration is IConfigurationSection section ? $"the configuration section '{section.Path}'" : "the options";
            LogNoClasses(_logger, source, options.DefaultClass);
        }
    }

    [LoggerMessage(35, LogLevel.Warning, "No workload class is configured in {Source}: every unit of work runs in the one class '{DefaultClass}', with no isolation between kinds of work. Add classes under Classes (docs/getting-started.md).")]
    private static partial void LogNoClasses(ILogger logger, string source, string defaultClass);

    [LoggerMessage(31, LogLevel.Information, "Workload isolation configuration applied: TotalConcurrency {TotalConcurrency}, classes {Classes}.")]
    private static partial void LogApplied(ILogger logger, int totalConcurrency, string classes);

    [LoggerMessage(32, LogLevel.Warning, "{Note}")]
    private static partial void LogNotLive(ILogger logger, string note);

    private sealed class Subscription(WorkloadScheduler owner, Action<WorkloadIsolationOptions> listener) : IDisposable
    {
        public void Dispose() => owner.Unsubscribe(listener);
    }

    private sealed class CheckRegistration(WorkloadScheduler owner, Func<WorkloadIsolationOptions, IReadOnlyCollection<string>> check) : IDisposable
    {
        public void Dispose()
        {
            lock (owner._listenersLock)
            {
                owner._checks = [.. owner._checks.Where(c => c != check)];
            }
        }
    }
}
