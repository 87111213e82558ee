using Bulkhead;
using Bulkhead.Quartz;
using Bulkhead.Quartz.Internal;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Quartz;

/// <summary>Runs Quartz jobs under Bulkhead workload classes.</summary>
public static class WorkloadIsolationQuartzBuilderExtensions
{
    /// <summary>
    /// Makes every firing of this scheduler wait for a seat of its job's workload class before the job runs, as
    /// background work of the class (its priority, its turns among tenants, no queue timeout), and hold it until the
    /// job ends. A class with fleet-wide limits (Bulkhead.Redis) holds across every node of a cluster; a firing its rate
    /// limit or fleet cap refuses waits the time the limit gives and asks again.
    /// </summary>
    /// <param name="builder">The scheduler's builder, from <c>AddQuartz</c>.</param>
    /// <param name="configure">Names the class of jobs by key, group or default.</param>
    /// <returns>The builder, for chaining.</returns>
    /// <remarks>
    /// Register it first, so that it is the outermost job middleware: a firing waiting for its seat then runs nothing
    /// else. Give the scheduler's thread pool (<c>UseDefaultThreadPool</c>) at least as many threads as firings may wait
    /// at once: a firing waits on one of them, and those beyond it wait in Quartz's order, not the classes'.
    /// </remarks>
    public static IQuartzBuilder UseWorkloadIsolation(this IQuartzBuilder builder, Action<WorkloadIsolationQuartzOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var options = new WorkloadIsolationQuartzOptions();
        configure?.Invoke(options);
        return builder.AddJobMiddleware(services => new WorkloadIsolationJobMiddleware(
            services.GetRequiredService<IWorkloadScheduler>(),
            options,
            services.GetService<TimeProvider>() ?? TimeProvider.System,
            services.GetService<ILoggerFactory>()?.CreateLogger("Bulkhead.Quartz") ?? NullLogger.Instance));
    }
}
