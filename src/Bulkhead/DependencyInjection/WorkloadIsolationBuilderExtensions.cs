using System.Diagnostics.CodeAnalysis;
using System.Threading.RateLimiting;
using Bulkhead;
using Bulkhead.DependencyInjection.Internal;
using Bulkhead.Jobs.Internal;
using Bulkhead.Options.Internal;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>
/// Runs background work under workload classes, and plugs limiters into classes.
/// </summary>
public static class WorkloadIsolationBuilderExtensions
{
    /// <summary>
    /// Registers a hosted service that runs under a workload class, with no change to its code: it starts once it
    /// holds a seat of the class (so the class's <c>MaxConcurrency</c> bounds how many such services run at once), runs
    /// on the class's dedicated threads if it has them, and frees the seat when it completes or the host stops.
    /// A failing <see cref="BackgroundService"/> is handled by <c>HostOptions.BackgroundServiceExceptionBehavior</c>.
    /// </summary>
    /// <typeparam name="TService">The hosted service, created once from DI.</typeparam>
    /// <param name="builder">The builder from <c>AddWorkloadIsolation</c>.</param>
    /// <param name="workloadClass">The class it runs in; start-up fails when no class of that name is configured.</param>
    /// <returns>The builder, for chaining.</returns>
    /// <exception cref="InvalidOperationException"><typeparamref name="TService"/> is already registered to run in another class.</exception>
    public static IWorkloadIsolationBuilder AddHostedService<[DynamicallyAccessedMembers(DynamicallyAccessedMemberTypes.PublicConstructors | DynamicallyAccessedMemberTypes.PublicMethods)] TService>(this IWorkloadIsolationBuilder builder, string workloadClass)
        where TService : class, IHostedService
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentException.ThrowIfNullOrWhiteSpace(workloadClass);

        if (builder.Services.FirstOrDefault(static d => d.ServiceType == typeof(WorkloadHostedServiceRegistration<TService>))?.ImplementationInstance
            is WorkloadHostedServiceRegistration<TService> { } existing)
        {
            if (string.Equals(existing.WorkloadClass, workloadClass, StringComparison.OrdinalIgnoreCase))
            {
                return builder;
            }

            throw new InvalidOperationException(
                $"Hosted service {typeof(TService).Name} is already registered to run in workload class '{existing.WorkloadClass}'; a hosted service runs in one class, so it cannot also run in '{workloadClass}'.");
        }

        builder.Services.TryAddSingleton<TService>();
        builder.Services.AddSingleton(new WorkloadHostedServiceRegistration<TService>(workloadClass));
        builder.Services.AddSingleton<IValidateOptions<WorkloadIsolationOptions>>(new WorkloadClassReferenceCheck($"Hosted service {typeof(TService).Name}", workloadClass));
        builder.Services.TryAddEnumerable(ServiceDescriptor.Singleton<IHostedService, WorkloadHostedService<TService>>(static sp =>
            new WorkloadHostedService<TService>(
                sp.GetRequiredService<TService>(),
                sp.GetRequiredService<WorkloadHostedServiceRegistration<TService>>(),
                sp.GetRequiredService<IWorkloadScheduler>(),
                sp.GetService<TimeProvider>() ?? TimeProvider.System,
                sp.GetService<ILogger<WorkloadHostedService<TService>>>() ?? NullLogger<WorkloadHostedService<TService>>.Instance)));
        return builder;
    }

    /// <summary>
    /// Makes a <see cref="PartitionedRateLimiter{TResource}"/> the admission check of a class, in place of its
    /// configured <c>RateLimit</c>: any limiter of System.Threading.RateLimiting, a remote one included. It is asked
    /// with the work's partition key (<see cref="string.Empty"/> for none) before a seat is sought; a refusal rejects
    /// the work with <see cref="WorkloadRejectionReason.RateLimited"/> and the lease's <c>RetryAfter</c> metadata. The
    /// lease it grants is held with the seat and disposed when the seat is freed, so a concurrency limiter works too.
    /// </summary>
    /// <param name="builder">The builder from <c>AddWorkloadIsolation</c>.</param>
    /// <param name="workloadClass">The class it checks; the limiter stays across configuration reloads.</param>
    /// <param name="factory">Creates the limiter once, when the scheduler is created; the scheduler does not dispose it.</param>
    /// <returns>The builder, for chaining.</returns>
    public static IWorkloadIsolationBuilder AddRateLimiter(this IWorkloadIsolationBuilder builder, string workloadClass, Func<IServiceProvider, PartitionedRateLimiter<string>> factory)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentException.ThrowIfNullOrWhiteSpace(workloadClass);
        ArgumentNullException.ThrowIfNull(factory);

        builder.Services.AddSingleton(new WorkloadRateLimiterRegistration(workloadClass, factory));
        return builder;
    }
}
