using Bulkhead;
using Bulkhead.AspNetCore;
using Bulkhead.AspNetCore.Classification.Internal;
using Bulkhead.AspNetCore.Middleware.Internal;
using Bulkhead.AspNetCore.Options.Internal;
using Bulkhead.AspNetCore.Propagation.Internal;
using Bulkhead.AspNetCore.Rejection.Internal;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
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
        WorkloadIsolationHttpOptions httpOptions = HttpSettings.Read(services, monitor, monitor.CurrentValue);
        FrontEndCounters counters = services.GetService<FrontEndCounters>() ?? new();
        ILogger logger = services.GetService<ILoggerFactory>()?.CreateLogger("Bulkhead.AspNetCore.WorkloadIsolationMiddleware") ?? NullLogger.Instance;
        var classifier = new RequestClassifier(
            scheduler, monitor, httpOptions, against => HttpSettings.Read(services, monitor, against), services.GetServices<IWorkloadClassifier>(), counters, logger);
        var pacer = new RefusalPacer(httpOptions.SlowRefusalsAbove, services.GetService<TimeProvider>() ?? TimeProvider.System, logger);
        var rejections = new RejectionWriter(httpOptions, logger, () => monitor.CurrentValue, services.GetService<IProblemDetailsService>(), pacer);
        _ = RejectionWriter.WarmUpAsync(services);

        IncomingPropagation? propagation = httpOptions.Propagation.Enabled
            ? new IncomingPropagation(httpOptions.Propagation, scheduler, services.GetService<TimeProvider>() ?? TimeProvider.System, logger)
            : null;

        return app.Use(next => new WorkloadIsolationMiddleware(next, classifier, rejections, counters, httpOptions.WorkloadClassResponseHeader, httpOptions.IncludePartitionInActivity, httpOptions.RateLimitHeaders, propagation).InvokeAsync);
    }
}
