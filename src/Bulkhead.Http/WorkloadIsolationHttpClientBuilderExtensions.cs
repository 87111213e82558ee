using System.Diagnostics.Metrics;
using Bulkhead;
using Bulkhead.Http;
using Bulkhead.Http.Internal;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>
/// Runs an <c>HttpClient</c>'s outgoing calls under a Bulkhead workload class, and carries the calling work's class and
/// deadline to the called service.
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

        if (options.AdaptiveThrottling is { } throttling && (throttling.Multiplier < 1 || !double.IsFinite(throttling.Multiplier) || throttling.Window < TimeSpan.FromSeconds(1)))
        {
            throw new ArgumentException($"HttpClient '{builder.Name}': AdaptiveThrottling needs a Multiplier of at least 1 (it is {throttling.Multiplier}) and a Window of at least a second (it is {throttling.Window}).", nameof(configure));
        }

        // The class is looked up when the client's handlers are made: a name that is not a configured class fails
        // CreateClient with the list of classes, not the first call. What throttling counted outlives the handlers
        // (the client factory makes new ones every few minutes): one count per registration.
        AdaptiveThrottle? throttle = null;
        Counter<long>? throttled = null;
        var made = new Lock();
        return builder.AddHttpMessageHandler(services =>
        {
            if (options.AdaptiveThrottling is { } throttling)
            {
                lock (made)
                {
                    throttle ??= new AdaptiveThrottle(throttling, services.GetService<TimeProvider>() ?? TimeProvider.System, throttling.Draw);
                    throttled ??= services.GetService<IMeterFactory>()?.Create(WorkloadIsolationTelemetry.MeterName).CreateCounter<long>(
                        "bulkhead.outgoing.throttled", "{call}", "Outgoing calls adaptive throttling refused before they were sent, by workload class.");
                }
            }

            IWorkloadScheduler scheduler = services.GetRequiredService<IWorkloadScheduler>();
            Dictionary<string, WorkloadClass>? byCaller = options.ClassesByCaller.Count == 0
                ? null
                : options.ClassesByCaller.ToDictionary(pair => pair.Key, pair => scheduler.GetClass(pair.Value), StringComparer.OrdinalIgnoreCase);
            return new WorkloadIsolationHandler(scheduler.GetClass(options.WorkloadClass), options, throttle, throttled, byCaller);
        });
    }

    /// <summary>
    /// Makes the client's calls carry the unit of work they are made for to the called service: the workload class of
    /// <see cref="WorkloadContext.Current"/> (the request being served, when Bulkhead.AspNetCore's propagation is on)
    /// and the time its caller still waits. The called service, with propagation on and this service among its trusted
    /// callers, runs the call in that class and refuses it once the time is up; a call whose deadline has already
    /// passed is not sent (a <see cref="WorkloadRejectedException"/> with
    /// <see cref="WorkloadRejectionReason.DeadlineExceeded"/>). See docs/propagation.md.
    /// </summary>
    /// <param name="builder">The client's builder, from <c>AddHttpClient</c>.</param>
    /// <param name="configure">Renames the headers, to match the called service's; the defaults match Bulkhead.AspNetCore's.</param>
    /// <returns>The builder, for chaining.</returns>
    /// <exception cref="ArgumentException">A header name is empty.</exception>
    public static IHttpClientBuilder AddWorkloadPropagation(this IHttpClientBuilder builder, Action<WorkloadPropagationHttpClientOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);

        var options = new WorkloadPropagationHttpClientOptions();
        configure?.Invoke(options);
        if (string.IsNullOrWhiteSpace(options.ClassHeader) || string.IsNullOrWhiteSpace(options.TimeoutHeader))
        {
            throw new ArgumentException($"HttpClient '{builder.Name}': AddWorkloadPropagation needs a ClassHeader and a TimeoutHeader.", nameof(configure));
        }

        return builder.AddHttpMessageHandler(services =>
            new WorkloadPropagationHandler(options.ClassHeader, options.TimeoutHeader, services.GetService<TimeProvider>() ?? TimeProvider.System));
    }
}
