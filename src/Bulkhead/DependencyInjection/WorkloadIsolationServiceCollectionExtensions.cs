using Bulkhead;
using Bulkhead.Admission.Internal;
using Bulkhead.DependencyInjection.Internal;
using Bulkhead.Execution.Internal;
using Bulkhead.Jobs.Internal;
using Bulkhead.Options.Internal;
using Bulkhead.Telemetry.Internal;
using System.Diagnostics.Metrics;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>
/// Registers Bulkhead workload isolation.
/// </summary>
public static class WorkloadIsolationServiceCollectionExtensions
{
    /// <summary>
    /// Adds workload isolation with default options: one class, <c>"default"</c>, with 64 seats.
    /// </summary>
    /// <param name="services">The services.</param>
    /// <returns>A builder to configure workload isolation further.</returns>
    public static IWorkloadIsolationBuilder AddWorkloadIsolation(this IServiceCollection services) =>
        services.AddWorkloadIsolation(static _ => { });

    /// <summary>
    /// Adds workload isolation configured in code. Calling it again adds more configuration.
    /// </summary>
    /// <param name="services">The services.</param>
    /// <param name="configure">Sets the options.</param>
    /// <returns>A builder to configure workload isolation further.</returns>
    public static IWorkloadIsolationBuilder AddWorkloadIsolation(this IServiceCollection services, Action<WorkloadIsolationOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configure);

        services.Configure(configure);
        return services.AddWorkloadIsolationCore();
    }

    /// <summary>
    /// Adds workload isolation configured from a configuration section, for example <c>WorkloadIsolation</c> of
    /// appsettings.json. Calling it again adds more configuration.
    /// </summary>
    /// <remarks>
    /// The section is read strictly: a setting that is not one of the options' (a misspelt key), a value that does not
    /// parse, a time span written as a bare number or a <c>Classes</c> list fails start-up and every reload, with one
    /// error naming each class and field.
    /// </remarks>
    /// <param name="services">The services.</param>
    /// <param name="configuration">The section that holds the options.</param>
    /// <returns>A builder to configure workload isolation further.</returns>
    public static IWorkloadIsolationBuilder AddWorkloadIsolation(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configuration);

        // The section as written is checked first: the binder would drop a class with an unreadable value, ignore a
        // misspelt setting and read "5" as five days.
        var check = new WorkloadIsolationConfigurationCheck(configuration);
        services.AddSingleton<IConfigureOptions<WorkloadIsolationOptions>>(check);
        services.AddSingleton(check);
        services.Configure<WorkloadIsolationOptions>(configuration);
        return services.AddWorkloadIsolationCore();
    }

    private static WorkloadIsolationBuilder AddWorkloadIsolationCore(this IServiceCollection services)
    {
        services.AddOptions<WorkloadIsolationOptions>().ValidateOnStart();
        services.AddMetrics();
        services.TryAddSingleton<FrontEndCounters>();
        services.TryAddSingleton<JobCounters>();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<WorkloadIsolationOptions>, WorkloadIsolationOptionsValidator>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IPostConfigureOptions<WorkloadIsolationOptions>, WorkloadKindDefaults>());
        services.TryAddSingleton(static sp =>
        {
            var scheduler = new WorkloadScheduler(
                sp.GetRequiredService<IOptions<WorkloadIsolationOptions>>().Value,
                sp.GetService<TimeProvider>() ?? TimeProvider.System,
                WorkloadRateLimiterRegistration.CreateAll(sp),
                sp.GetService<IWorkloadFleetLimiterFactory>(),
                sp.GetService<ILoggerFactory>()?.CreateLogger("Bulkhead.WorkloadIsolation"),
                sp.GetService<IMeterFactory>(),
                sp.GetRequiredService<FrontEndCounters>(),
                sp.GetRequiredService<JobCounters>())
            {
                Configuration = sp.GetServices<WorkloadIsolationConfigurationCheck>().LastOrDefault()?.Section,
            };
            scheduler.Watch(
                sp.GetRequiredService<IOptionsFactory<WorkloadIsolationOptions>>(),
                sp.GetServices<IOptionsChangeTokenSource<WorkloadIsolationOptions>>());
            scheduler.WarnIfNoClasses();
            return scheduler;
        });
        services.TryAddSingleton<IWorkloadScheduler>(static sp => sp.GetRequiredService<WorkloadScheduler>());
        services.TryAddSingleton<IWorkloadIsolationMonitor>(static sp => sp.GetRequiredService<WorkloadScheduler>());
        services.TryAddSingleton(static sp => new WorkloadJobQueue(
            sp.GetRequiredService<IWorkloadScheduler>(),
            sp.GetRequiredService<IWorkloadIsolationMonitor>(),
            sp.GetService<TimeProvider>() ?? TimeProvider.System,
            sp.GetService<ILogger<WorkloadJobQueue>>() ?? NullLogger<WorkloadJobQueue>.Instance,
            sp.GetRequiredService<IServiceScopeFactory>(),
            sp.GetRequiredService<JobCounters>()));
        services.TryAddSingleton<IWorkloadJobQueue>(static sp => sp.GetRequiredService<WorkloadJobQueue>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IHostedService, WorkloadJobQueue>(static sp => sp.GetRequiredService<WorkloadJobQueue>()));
        return new WorkloadIsolationBuilder(services);
    }
}
