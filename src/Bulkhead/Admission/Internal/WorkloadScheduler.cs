using System.Diagnostics.CodeAnalysis;
using Microsoft.Extensions.Options;

namespace Bulkhead.Admission.Internal;

/// <summary>
/// The <see cref="IWorkloadScheduler"/> registered in DI: resolves class names and runs work over the admission engine.
/// </summary>
internal sealed class WorkloadScheduler : IWorkloadScheduler, IDisposable
{
    /// <summary>Requests let through without a seat because their endpoint is exempt.</summary>
    public long Exempt;

    /// <summary>Units of work that named an unknown class and ran in the default class instead.</summary>
    public long UnknownClassFallbacks;

    private readonly ClassState[] _classes;
    private readonly Dictionary<string, ClassState> _classesByName;

    public WorkloadScheduler(IOptions<WorkloadIsolationOptions> options, TimeProvider? timeProvider = null)
        : this(options?.Value!, timeProvider ?? TimeProvider.System)
    {
    }

    public WorkloadScheduler(WorkloadIsolationOptions options, TimeProvider timeProvider)
    {
        Engine = new AdmissionEngine(options, timeProvider);
        _classes = [.. Engine.Classes];
        _classesByName = _classes.ToDictionary(c => c.Name, StringComparer.OrdinalIgnoreCase);
        DefaultClass = Resolve(options.DefaultClass);
    }

    public AdmissionEngine Engine { get; }

    public ClassState DefaultClass { get; }

    public WorkloadLease TryAcquire(string workloadClass, string? partition = null) =>
        Engine.TryAcquire(Resolve(workloadClass), partition);

    public ValueTask<WorkloadLease> AcquireAsync(string workloadClass, string? partition = null, CancellationToken cancellationToken = default) =>
        Engine.AcquireAsync(Resolve(workloadClass), partition, cancellationToken);

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

    public WorkloadSnapshot GetSnapshot() => new(Engine.GetSnapshot());

    public void Dispose() => Engine.Dispose();

    /// <summary>
    /// Finds a class by name: by reference first (names usually come from the same constants that configured them),
    /// then without regard to case.
    /// </summary>
    public bool TryResolve(string? workloadClass, [NotNullWhen(true)] out ClassState? found)
    {
        foreach (ClassState c in _classes)
        {
            if (ReferenceEquals(c.Name, workloadClass))
            {
                found = c;
                return true;
            }
        }

        found = null;
        return workloadClass is not null && _classesByName.TryGetValue(workloadClass, out found);
    }

    public ClassState Resolve(string workloadClass)
    {
        ArgumentNullException.ThrowIfNull(workloadClass);
        if (TryResolve(workloadClass, out ClassState? found))
        {
            return found;
        }

        throw new ArgumentException(
            $"'{workloadClass}' is not a configured workload class. Configured classes: {string.Join(", ", _classes.Select(c => $"'{c.Name}'"))}.",
            nameof(workloadClass));
    }

    private async Task RunCoreAsync(ClassState c, Func<CancellationToken, ValueTask> work, string? partition, CancellationToken cancellationToken)
    {
        using WorkloadLease lease = await Engine.AcquireAsync(c, partition, cancellationToken).ConfigureAwait(false);
        ThrowIfRejected(lease);
        if (c.Scheduler is null)
        {
            await work(cancellationToken).ConfigureAwait(false);
            return;
        }

        await c.Start(() => work(cancellationToken).AsTask()).ConfigureAwait(false);
    }

    private async Task<T> RunCoreAsync<T>(ClassState c, Func<CancellationToken, ValueTask<T>> work, string? partition, CancellationToken cancellationToken)
    {
        using WorkloadLease lease = await Engine.AcquireAsync(c, partition, cancellationToken).ConfigureAwait(false);
        ThrowIfRejected(lease);
        return c.Scheduler is null
            ? await work(cancellationToken).ConfigureAwait(false)
            : await c.Start(() => work(cancellationToken).AsTask()).ConfigureAwait(false);
    }

    private static void ThrowIfRejected(WorkloadLease lease)
    {
        if (!lease.IsAcquired)
        {
            throw new WorkloadRejectedException(lease.WorkloadClass, lease.RejectionReason!.Value, lease.RetryAfter);
        }
    }
}
