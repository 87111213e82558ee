using Bulkhead.AspNetCore;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Metadata;
using Microsoft.AspNetCore.Mvc;

namespace Microsoft.AspNetCore.Builder;

/// <summary>
/// Puts endpoints and route groups in workload classes.
/// </summary>
public static class WorkloadIsolationEndpointConventionBuilderExtensions
{
    // What a rejection answers, as OpenAPI sees it: RFC 9457 problem details with a 503 or a 429.
    private static readonly string[] s_problemContentTypes = ["application/problem+json"];
    private static readonly ProducesResponseTypeMetadata s_serviceUnavailable = new(StatusCodes.Status503ServiceUnavailable, typeof(ProblemDetails), s_problemContentTypes);
    private static readonly ProducesResponseTypeMetadata s_tooManyRequests = new(StatusCodes.Status429TooManyRequests, typeof(ProblemDetails), s_problemContentTypes);

    /// <summary>
    /// Runs the endpoint's requests (or every endpoint of a route group) in a workload class, and says in its OpenAPI
    /// description that it may answer 503 and 429 with problem details (see <see cref="ProducesWorkloadRejections"/>).
    /// </summary>
    /// <typeparam name="TBuilder">The endpoint or group builder.</typeparam>
    /// <param name="builder">The endpoint or group.</param>
    /// <param name="workloadClass">The name of the workload class.</param>
    /// <returns>The builder, for chaining.</returns>
    public static TBuilder WithWorkloadClass<TBuilder>(this TBuilder builder, string workloadClass)
        where TBuilder : IEndpointConventionBuilder =>
        builder.WithWorkloadClass(workloadClass, weight: 1);

    /// <summary>
    /// Runs the endpoint's requests in a workload class, each taking <paramref name="weight"/> seats of it at once: a
    /// report that costs what four of the class's usual requests cost takes 4. Every seat rule counts seats (the class's
    /// maximum and reservation, the shared pool, the per-partition limit, turns among tenants); a request wider than
    /// the class can ever seat is answered 503 at once.
    /// </summary>
    /// <typeparam name="TBuilder">The endpoint or group builder.</typeparam>
    /// <param name="builder">The endpoint or group.</param>
    /// <param name="workloadClass">The name of the workload class.</param>
    /// <param name="weight">The seats each request takes, 1 or more.</param>
    /// <returns>The builder, for chaining.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="weight"/> is less than 1.</exception>
    public static TBuilder WithWorkloadClass<TBuilder>(this TBuilder builder, string workloadClass, int weight)
        where TBuilder : IEndpointConventionBuilder
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentException.ThrowIfNullOrWhiteSpace(workloadClass);

        var metadata = new WorkloadClassAttribute(workloadClass) { Weight = weight };
        builder.Add(endpoint => endpoint.Metadata.Add(metadata));
        return builder.ProducesWorkloadRejections();
    }

    /// <summary>
    /// Says in the endpoint's (or route group's) OpenAPI description that it may answer 503 Service Unavailable and
    /// 429 Too Many Requests with problem details, as workload isolation does when it rejects a request, so that
    /// generated clients know them. <see cref="WithWorkloadClass{TBuilder}(TBuilder, string)"/> does this already; use it for endpoints classified
    /// by rules or the default class.
    /// </summary>
    /// <typeparam name="TBuilder">The endpoint or group builder.</typeparam>
    /// <param name="builder">The endpoint or group.</param>
    /// <returns>The builder, for chaining.</returns>
    public static TBuilder ProducesWorkloadRejections<TBuilder>(this TBuilder builder)
        where TBuilder : IEndpointConventionBuilder
    {
        ArgumentNullException.ThrowIfNull(builder);

        builder.Add(static endpoint =>
        {
            foreach (ProducesResponseTypeMetadata produces in (ReadOnlySpan<ProducesResponseTypeMetadata>)[s_serviceUnavailable, s_tooManyRequests])
            {
                if (!endpoint.Metadata.Any(m => m is IProducesResponseTypeMetadata existing && existing.StatusCode == produces.StatusCode))
                {
                    endpoint.Metadata.Add(produces);
                }
            }
        });
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
