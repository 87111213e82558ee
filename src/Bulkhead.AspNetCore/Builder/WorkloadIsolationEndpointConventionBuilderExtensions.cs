using Bulkhead.AspNetCore;

namespace Microsoft.AspNetCore.Builder;

/// <summary>
/// Puts endpoints and route groups in workload classes.
/// </summary>
public static class WorkloadIsolationEndpointConventionBuilderExtensions
{
    /// <summary>
    /// Runs the endpoint's requests (or every endpoint of a route group) in a workload class.
    /// </summary>
    /// <typeparam name="TBuilder">The endpoint or group builder.</typeparam>
    /// <param name="builder">The endpoint or group.</param>
    /// <param name="workloadClass">The name of the workload class.</param>
    /// <returns>The builder, for chaining.</returns>
    public static TBuilder WithWorkloadClass<TBuilder>(this TBuilder builder, string workloadClass)
        where TBuilder : IEndpointConventionBuilder
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentException.ThrowIfNullOrWhiteSpace(workloadClass);

        var metadata = new WorkloadClassAttribute(workloadClass);
        builder.Add(endpoint => endpoint.Metadata.Add(metadata));
        return builder;
    }

    /// <summary>
    /// Exempts the endpoint (or every endpoint of a route group) from workload isolation: its requests are never
    /// queued or rejected.
    /// </summary>
    /// <typeparam name="TBuilder">The endpoint or group builder.</typeparam>
    /// <param name="builder">The endpoint or group.</param>
    /// <returns>The builder, for chaining.</returns>
    public static TBuilder DisableWorkloadIsolation<TBuilder>(this TBuilder builder)
        where TBuilder : IEndpointConventionBuilder
    {
        ArgumentNullException.ThrowIfNull(builder);

        var metadata = new DisableWorkloadIsolationAttribute();
        builder.Add(endpoint => endpoint.Metadata.Add(metadata));
        return builder;
    }
}
