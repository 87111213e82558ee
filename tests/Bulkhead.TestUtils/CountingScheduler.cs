using System.Diagnostics.CodeAnalysis;
using Microsoft.Extensions.DependencyInjection;

namespace Bulkhead.TestUtils;

/// <summary>
/// A user's decorator of <see cref="IWorkloadScheduler"/>: hands out its own class handles and counts every seat taken
/// through them, so tests can tell whether a front end goes through the scheduler it was given.
/// </summary>
public sealed class CountingScheduler(IWorkloadScheduler inner) : IWorkloadScheduler
{
    private int _acquired;

    /// <summary>Gets how many seats were asked for through this decorator's handles.</summary>
    public int Acquired => Volatile.Read(ref _acquired);

    /// <inheritdoc />
    public WorkloadClass DefaultClass => new CountingClass(this, inner.DefaultClass);

    /// <summary>Replaces the registered scheduler with a counting decorator of it, as a user's decorator would.</summary>
    /// <param name="services">Services on which <c>AddWorkloadIsolation</c> was called.</param>
    public static void Decorate(IServiceCollection services)
    {
        ArgumentNullException.ThrowIfNull(services);
        ServiceDescriptor registered = services.Single(d => d.ServiceType == typeof(IWorkloadScheduler));
        services.Remove(registered);
        services.AddSingleton(sp => new CountingScheduler((IWorkloadScheduler)registered.ImplementationFactory!(sp)));
        services.AddSingleton<IWorkloadScheduler>(sp => sp.GetRequiredService<CountingScheduler>());
    }

    /// <inheritdoc />
    public WorkloadClass GetClass(string workloadClass) => new CountingClass(this, inner.GetClass(workloadClass));

    /// <inheritdoc />
    public bool TryGetClass(string? workloadClass, [NotNullWhen(true)] out WorkloadClass? handle)
    {
        handle = inner.TryGetClass(workloadClass, out WorkloadClass? found) ? new CountingClass(this, found) : null;
        return handle is not null;
    }

    /// <inheritdoc />
    public WorkloadLease TryAcquire(string workloadClass, string? partition = null) => GetClass(workloadClass).TryAcquire(partition);

    /// <inheritdoc />
    public ValueTask<WorkloadLease> AcquireAsync(string workloadClass, string? partition = null, CancellationToken cancellationToken = default) =>
        GetClass(workloadClass).AcquireAsync(partition, cancellationToken);

    /// <inheritdoc />
    public Task RunAsync(string workloadClass, Func<CancellationToken, ValueTask> work, string? partition = null, CancellationToken cancellationToken = default)
    {
        Interlocked.Increment(ref _acquired);
        return inner.RunAsync(workloadClass, work, partition, cancellationToken);
    }

    /// <inheritdoc />
    public Task<T> RunAsync<T>(string workloadClass, Func<CancellationToken, ValueTask<T>> work, string? partition = null, CancellationToken cancellationToken = default)
    {
        Interlocked.Increment(ref _acquired);
        return inner.RunAsync(workloadClass, work, partition, cancellationToken);
    }

    /// <inheritdoc />
    public WorkloadSnapshot GetSnapshot() => inner.GetSnapshot();

    private sealed class CountingClass(CountingScheduler owner, WorkloadClass inner) : WorkloadClass
    {
        public override string Name => inner.Name;

        public override TaskScheduler? TaskScheduler => inner.TaskScheduler;

        public override int MaxWeight => inner.MaxWeight;

        public override WorkloadLease TryAcquire(WorkloadRequest request)
        {
            Interlocked.Increment(ref owner._acquired);
            return inner.TryAcquire(request);
        }

        public override ValueTask<WorkloadLease> AcquireAsync(WorkloadRequest request, CancellationToken cancellationToken = default)
        {
            Interlocked.Increment(ref owner._acquired);
            return inner.AcquireAsync(request, cancellationToken);
        }

        public override Task ExecuteAsync(WorkloadLease lease, Func<object?, CancellationToken, Task> work, object? state, CancellationToken cancellationToken = default) =>
            inner.ExecuteAsync(lease, work, state, cancellationToken);

        public override Task<TResult> ExecuteAsync<TResult>(WorkloadLease lease, Func<object?, CancellationToken, Task<TResult>> work, object? state, CancellationToken cancellationToken = default) =>
            inner.ExecuteAsync(lease, work, state, cancellationToken);
    }
}
