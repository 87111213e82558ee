using Bulkhead;
using Bulkhead.AspNetCore;
using Bulkhead.AspNetCore.Classification.Internal;
using Bulkhead.AspNetCore.Middleware.Internal;
using Bulkhead.AspNetCore.Options.Internal;
using Bulkhead.AspNetCore.Propagation.Internal;
using Bulkhead.AspNetCore.Rejection.Internal;
using Microsoft.Extensions.Configuration;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Bulkhead.Options.Internal;
using Bulkhead.Telemetry.Internal;

namespace Microsoft.AspNetCore.Builder;

/// <summary>
/// Adds workload isolation to the request pipeline.
/// </summary>
public static class WorkloadIsolationApplicationBuilderExtensions
{
    /// <summary>
    /// Runs every request after this point holding a seat of its workload class: classified by endpoint metadata,
    /// configured rules, registered classifiers, then the default class.
    /// </summary>
    /// <param name="app">The application.</param>
    /// <returns>The application, for chaining.</returns>
    /// <remarks>
    /// Place it after <c>UseRouting</c> (and after authentication, for claim rules) so that it sees the endpoint's
    /// metadata. Placed before routing, no endpoint is known yet: <c>WithWorkloadClass</c>,
    /// <c>[WorkloadClass]</c> and <c>DisableWorkloadIsolation</c> are not seen, and requests are classified by rules,
    /// classifiers and the default class only. <c>WebApplication</c> runs routing first when <c>UseRouting</c> is not
    /// called, so there the middleware sees the metadata wherever it is placed.
    /// </remarks>
    /// <exception cref="InvalidOperationException"><c>AddWorkloadIsolation</c> was not called.</exception>
    public static IApplicationBuilder UseWorkloadIsolation(this IApplicationBuilder app)
    {
        ArgumentNullException.ThrowIfNull(app);

        IServiceProvider services = app.ApplicationServices;
        IWorkloadScheduler scheduler = services.GetService<IWorkloadScheduler>()
            ?? throw new InvalidOperationException(
                "Unable to find the required services. Add them by calling 'IServiceCollection.AddWorkloadIsolation' in the application startup code.");

        IWorkloadIsolationMonitor monitor = services.GetRequiredService<IWorkloadIsolationMonitor>();
        WorkloadIsolationHttpOptions httpOptions = HttpOptions(services, monitor);
        FrontEndCounters counters = services.GetService<FrontEndCounters>() ?? new();
        ILogger logger = services.GetService<ILoggerFactory>()?.CreateLogger("Bulkhead.AspNetCore.WorkloadIsolationMiddleware") ?? NullLogger.Instance;
        var classifier = new RequestClassifier(scheduler, monitor, httpOptions, services.GetServices<IWorkloadClassifier>(), counters, logger);
        var pacer = new RefusalPacer(httpOptions.SlowRefusalsAbove, services.GetService<TimeProvider>() ?? TimeProvider.System, logger);
        var rejections = new RejectionWriter(httpOptions, logger, () => monitor.CurrentValue, services.GetService<IProblemDetailsService>(), pacer);
        _ = RejectionWriter.WarmUpAsync(services);

        IncomingPropagation? propagation = httpOptions.Propagation.Enabled
            ? new IncomingPropagation(httpOptions.Propagation, scheduler, services.GetService<TimeProvider>() ?? TimeProvider.System, logger)
            : null;

        return app.Use(next => new WorkloadIsolationMiddleware(next, classifier, rejections, counters, httpOptions.WorkloadClassResponseHeader, httpOptions.IncludePartitionInActivity, httpOptions.RateLimitHeaders, propagation).InvokeAsync);
    }

    /// <summary>
    /// The HTTP settings: the <c>Http</c> part of the <c>WorkloadIsolation</c> section first, then what code sets with
    /// <c>ConfigureHttp</c> (code wins), validated together. Read once, when the pipeline is built.
    /// </summary>
    private static WorkloadIsolationHttpOptions HttpOptions(IServiceProvider services, IWorkloadIsolationMonitor monitor)
    {
        IConfigureOptions<WorkloadIsolationHttpOptions>[] setups =
        [
            new ConfigureOptions<WorkloadIsolationHttpOptions>(options => BindHttp(monitor.Configuration?.GetSection("Http"), options)),
            .. services.GetServices<IConfigureOptions<WorkloadIsolationHttpOptions>>(),
        ];
        List<IValidateOptions<WorkloadIsolationHttpOptions>> validators = [.. services.GetServices<IValidateOptions<WorkloadIsolationHttpOptions>>()];
        if (!validators.OfType<WorkloadIsolationHttpOptionsValidator>().Any())
        {
            // Settings from configuration alone are checked as those from ConfigureHttp are.
            validators.Add(new WorkloadIsolationHttpOptionsValidator(services.GetRequiredService<IOptions<WorkloadIsolationOptions>>()));
        }

        var factory = new OptionsFactory<WorkloadIsolationHttpOptions>(
            setups,
            services.GetServices<IPostConfigureOptions<WorkloadIsolationHttpOptions>>(),
            validators);
        return factory.Create(Microsoft.Extensions.Options.Options.DefaultName);
    }

    /// <summary>
    /// Reads the HTTP settings of the section, checked first off <see cref="WorkloadIsolationHttpOptions"/>'s own shape:
    /// an unknown (misspelt) setting, a value that does not parse, a time span written as a bare number.
    /// </summary>
    /// <exception cref="OptionsValidationException">The section holds a setting that is not one, or a value that does not parse.</exception>
    private static void BindHttp(IConfigurationSection? section, WorkloadIsolationHttpOptions options)
    {
        if (section is null || !section.Exists())
        {
            return;
        }

        List<string> failures = WorkloadIsolationConfigurationCheck.Check(section, HttpShape, "WorkloadIsolation: Http");
        if (failures.Count > 0)
        {
            throw new OptionsValidationException(Microsoft.Extensions.Options.Options.DefaultName, typeof(WorkloadIsolationHttpOptions), failures);
        }

        section.Bind(options);
    }

    private static readonly WorkloadIsolationConfigurationCheck.Setting HttpShape =
        WorkloadIsolationConfigurationCheck.Setting.Of<WorkloadIsolationHttpOptions>(WorkloadIsolationConfigurationCheck.Setting.Of<WorkloadPropagationOptions>());
}
