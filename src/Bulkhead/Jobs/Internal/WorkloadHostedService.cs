using System.Diagnostics.CodeAnalysis;
using System.Reflection;
using Bulkhead.Admission.Internal;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Bulkhead.Jobs.Internal;

/// <summary>
/// Runs an existing hosted service under a workload class, with no change to its code: it starts once it holds a seat
/// of its class, on the class's threads if it has them, and frees the seat when it completes or stops.
/// </summary>
/// <remarks>
/// The wrapper is itself a <see cref="BackgroundService"/>, so the host watches it: a wrapped
/// <see cref="BackgroundService"/> that fails fails this one, and the host applies
/// <c>HostOptions.BackgroundServiceExceptionBehavior</c> as it would to the service itself.
/// </remarks>
internal sealed partial class WorkloadHostedService<TService>(
    TService inner,
    WorkloadHostedServiceRegistration<TService> registration,
    WorkloadScheduler scheduler,
    TimeProvider timeProvider,
    ILogger<WorkloadHostedService<TService>> logger) : BackgroundService
    where TService : class, IHostedService
{
    // Since .NET 10, BackgroundService.StartAsync starts ExecuteAsync with Task.Run, on the ThreadPool whatever the
    // current scheduler. To run a service on its class's threads, the wrapper calls ExecuteAsync itself, when the
    // service leaves StartAsync and StopAsync to BackgroundService (else their overrides would be skipped).
    private static readonly Func<BackgroundService, CancellationToken, Task>? s_execute = FindExecute();

    private int _innerStarted;

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        // The inner service is told first, so that its own stopping token fires; then this one waits for it to end.
        if (Volatile.Read(ref _innerStarted) == 1)
        {
            await inner.StopAsync(cancellationToken).ConfigureAwait(false);
        }

        await base.StopAsync(cancellationToken).ConfigureAwait(false);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        ClassState workloadClass = scheduler.Resolve(registration.WorkloadClass);
        using WorkloadLease lease = await SeatWaiter.WaitAsync(
            workloadClass,
            partition: null,
            timeProvider,
            (reason, delay) => LogWaiting(logger, typeof(TService).Name, workloadClass.Name, reason, delay),
            stoppingToken).ConfigureAwait(false);
        if (!lease.IsAcquired)
        {
            return;
        }

        if (inner is BackgroundService direct && s_execute is { } execute)
        {
            // Stopping this service cancels stoppingToken, which is the inner service's own stopping token.
            await workloadClass.Start(() => execute(direct, stoppingToken)).ConfigureAwait(false);
            return;
        }

        Task started = workloadClass.Start(() => inner.StartAsync(stoppingToken));
        Volatile.Write(ref _innerStarted, 1);
        await started.ConfigureAwait(false);

        if (inner is BackgroundService background && background.ExecuteTask is { } execution)
        {
            // Holds the seat while the service runs; its failure is this service's failure.
            await execution.ConfigureAwait(false);
            return;
        }

        // A plain hosted service runs from StartAsync to StopAsync: hold the seat until the host stops.
        try
        {
            await Task.Delay(Timeout.InfiniteTimeSpan, timeProvider, stoppingToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    [UnconditionalSuppressMessage("Trimming", "IL2090", Justification = "Looks up BackgroundService's own members, which the framework keeps.")]
    [UnconditionalSuppressMessage("Trimming", "IL2075", Justification = "The service's StartAsync and StopAsync are public and used by the host.")]
    private static Func<BackgroundService, CancellationToken, Task>? FindExecute()
    {
        if (!typeof(BackgroundService).IsAssignableFrom(typeof(TService)))
        {
            return null;
        }

        const BindingFlags Public = BindingFlags.Instance | BindingFlags.Public;
        bool overridesLifecycle =
            typeof(TService).GetMethod(nameof(BackgroundService.StartAsync), Public, [typeof(CancellationToken)])?.DeclaringType != typeof(BackgroundService)
            || typeof(TService).GetMethod(nameof(BackgroundService.StopAsync), Public, [typeof(CancellationToken)])?.DeclaringType != typeof(BackgroundService);
        MethodInfo? execute = typeof(BackgroundService).GetMethod("ExecuteAsync", BindingFlags.Instance | BindingFlags.NonPublic, [typeof(CancellationToken)]);
        return overridesLifecycle || execute is null
            ? null
            : (service, token) => execute.CreateDelegate<Func<CancellationToken, Task>>(service)(token);
    }

    [LoggerMessage(10, LogLevel.Warning, "Hosted service {Service} could not take a seat of workload class '{WorkloadClass}' ({Reason}); trying again in {Delay}.")]
    private static partial void LogWaiting(ILogger logger, string service, string workloadClass, WorkloadRejectionReason reason, TimeSpan delay);
}
