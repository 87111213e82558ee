using System.Diagnostics.CodeAnalysis;
using Bulkhead;
using Bulkhead.Polly;

namespace Polly;

/// <summary>
/// Adds Bulkhead workload isolation to a Polly resilience pipeline.
/// </summary>
public static class WorkloadIsolationResiliencePipelineBuilderExtensions
{
    /// <summary>
    /// Runs executions of the pipeline under a workload class: each waits for a seat of the class, or fails with a
    /// <see cref="WorkloadRejectedException"/> carrying the reason and retry-after.
    /// </summary>
    /// <typeparam name="TBuilder">The pipeline builder.</typeparam>
    /// <param name="builder">The builder.</param>
    /// <param name="scheduler">The scheduler, usually <see cref="IWorkloadScheduler"/> from DI.</param>
    /// <param name="options">The strategy's options; validated when the pipeline is built.</param>
    /// <returns>The builder, for chaining.</returns>
    [UnconditionalSuppressMessage("Trimming", "IL2026", Justification = "The options' members are preserved by their use here.")]
    public static TBuilder AddWorkloadIsolation<TBuilder>(this TBuilder builder, IWorkloadScheduler scheduler, WorkloadIsolationStrategyOptions options)
        where TBuilder : ResiliencePipelineBuilderBase
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(scheduler);
        ArgumentNullException.ThrowIfNull(options);

        builder.AddStrategy(context => new WorkloadIsolationResilienceStrategy(scheduler, options, context.Telemetry), options);
        return builder;
    }

    /// <summary>
    /// Runs executions of the pipeline under a workload class.
    /// </summary>
    /// <typeparam name="TBuilder">The pipeline builder.</typeparam>
    /// <param name="builder">The builder.</param>
    /// <param name="scheduler">The scheduler, usually <see cref="IWorkloadScheduler"/> from DI.</param>
    /// <param name="workloadClass">The class.</param>
    /// <returns>The builder, for chaining.</returns>
    public static TBuilder AddWorkloadIsolation<TBuilder>(this TBuilder builder, IWorkloadScheduler scheduler, string workloadClass)
        where TBuilder : ResiliencePipelineBuilderBase =>
        builder.AddWorkloadIsolation(scheduler, new WorkloadIsolationStrategyOptions { WorkloadClass = workloadClass });
}
