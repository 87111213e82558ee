using Bulkhead;
using Bulkhead.Http;
using Bulkhead.Http.Internal;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>
/// Runs an <c>HttpClient</c>'s outgoing calls under a Bulkhead workload class.
/// </summary>
public static class WorkloadIsolationHttpClientBuilderExtensions
{
    /// <summary>
    /// Makes each call of the client wait for a seat of <paramref name="workloadClass"/> (its priority, reserved seats,
    /// queue, rate limit and fleet-wide caps) before it is sent, and hold it until its response arrives; a refused call
    /// throws a <see cref="WorkloadRejectedException"/>. Clients that name the same class share its seats.
    /// </summary>
    /// <param name="builder">The client's builder, from <c>AddHttpClient</c>.</param>
    /// <param name="workloadClass">A configured workload class.</param>
    /// <returns>The builder, for chaining.</returns>
    /// <remarks>
    /// The handler is added where this is called among the client's handlers: add it after a retry handler so that
    /// each attempt takes a seat, before one so that the retries run inside one seat.
    /// </remarks>
    public static IHttpClientBuilder AddWorkloadIsolation(this IHttpClientBuilder builder, string workloadClass)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(workloadClass);
        return builder.AddWorkloadIsolation(options => options.WorkloadClass = workloadClass);
    }

    /// <summary>
    /// Makes each call of the client wait for a seat of a workload class before it is sent; see
    /// <see cref="AddWorkloadIsolation(IHttpClientBuilder, string)"/>.
    /// </summary>
    /// <param name="builder">The client's builder, from <c>AddHttpClient</c>.</param>
    /// <param name="configure">Sets the class, the partition of a call and how a refusal is answered.</param>
    /// <returns>The builder, for chaining.</returns>
    /// <exception cref="ArgumentException">The settings name no class.</exception>
    public static IHttpClientBuilder AddWorkloadIsolation(this IHttpClientBuilder builder, Action<WorkloadIsolationHttpClientOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(configure);

        var options = new WorkloadIsolationHttpClientOptions();
        configure(options);
        if (string.IsNullOrWhiteSpace(options.WorkloadClass))
        {
            throw new ArgumentException($"HttpClient '{builder.Name}': AddWorkloadIsolation needs a WorkloadClass, the class its calls take their seats in.", nameof(configure));
        }

        if (!Enum.IsDefined(options.RejectionMode))
        {
            throw new ArgumentException($"HttpClient '{builder.Name}': RejectionMode {(int)options.RejectionMode} is not one of Throw, Respond.", nameof(configure));
        }

        // The class is looked up when the client's handlers are made: a name that is not a configured class fails
        // CreateClient with the list of classes, not the first call.
        return builder.AddHttpMessageHandler(services =>
            new WorkloadIsolationHandler(services.GetRequiredService<IWorkloadScheduler>().GetClass(options.WorkloadClass), options));
    }
}
