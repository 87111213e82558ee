using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;
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
internal sealed partial class WorkloadHostedService<[DynamicallyAccessedMembers(DynamicallyAccessedMemberTypes.PublicMethods)] TService>(
    TService inner,
    WorkloadHostedServiceRegistration<TService> registration,
    IWorkloadScheduler scheduler,
    TimeProvider timeProvider,
    ILogger<WorkloadHostedService<TService>> logger) : BackgroundService
    where TService : class, IHostedService
{
    // Since .NET 10, BackgroundService.StartAsync starts ExecuteAsync with Task.Run, on the ThreadPool whatever the
    // current scheduler. To run a service on its class's threads, the wrapper calls ExecuteAsync itself, when the
    // service leaves StartAsync and StopAsync to BackgroundService (else their overrides would be skipped).
    private static readonly bool s_mayCallExecute = LeavesLifecycleToBackgroundService();

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
        WorkloadClass workloadClass = scheduler.GetClass(registration.WorkloadClass);
        WorkloadLease lease = await SeatWaiter.WaitAsync(
            workloadClass,
            default,
            timeProvider,
            (reason, delay) => LogWaiting(logger, typeof(TService).Name, workloadClass.Name, reason, delay),
            stoppingToken).ConfigureAwait(false);
        if (!lease.IsAcquired)
        {
            return;
        }

        // Stopping this service cancels stoppingToken, which is the inner service's own stopping token. Its code runs for
        // a unit of work of its class: the calls it makes through a propagating client say so.
        WorkloadContext.Current = new WorkloadContext(workloadClass.Name);
        await workloadClass.ExecuteAsync(lease, static (self, token) => ((WorkloadHostedService<TService>)self!).RunInnerAsync(token), this, stoppingToken).ConfigureAwait(false);
    }

    private async Task RunInnerAsync(CancellationToken stoppingToken)
    {
        if (s_mayCallExecute && inner is BackgroundService direct)
        {
            await CallExecuteAsync(direct, stoppingToken).ConfigureAwait(false);
            return;
        }

        Task started = inner.StartAsync(stoppingToken);
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

    [UnsafeAccessor(UnsafeAccessorKind.Method, Name = "ExecuteAsync")]
    private static extern Task CallExecuteAsync(BackgroundService service, CancellationToken stoppingToken);

    private static bool LeavesLifecycleToBackgroundService()
    {
        if (!typeof(BackgroundService).IsAssignableFrom(typeof(TService)))
        {
            return false;
        }

        return typeof(TService).GetMethod(nameof(BackgroundService.StartAsync), [typeof(CancellationToken)])?.DeclaringType == typeof(BackgroundService)
            && typeof(TService).GetMethod(nameof(BackgroundService.StopAsync), [typeof(CancellationToken)])?.DeclaringType == typeof(BackgroundService);
    }

    [LoggerMessage(10, LogLevel.Warning, "Hosted service {Service} could not take a seat of workload class '{WorkloadClass}' ({Reason}); trying again in {Delay}.")]
    private static partial void LogWaiting(ILogger logger, string service, string workloadClass, WorkloadRejectionReason reason, TimeSpan delay);
}
