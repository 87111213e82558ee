using System.Diagnostics.CodeAnalysis;
using Bulkhead;
using Bulkhead.AspNetCore;
using Bulkhead.AspNetCore.Options.Internal;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>
/// Configures how workload isolation treats HTTP requests.
/// </summary>
public static class WorkloadIsolationBuilderHttpExtensions
{
    /// <summary>
    /// Configures request rules, trusted headers, partition keys and the answer to rejected requests, after the
    /// <c>Http</c> part of the configuration section; checked when the host starts (a rule must name a configured
    /// class, a <see cref="WorkloadIsolationHttpOptions.PartitionHeader"/> must be one of the trusted headers).
    /// </summary>
    /// <param name="builder">The builder from <c>AddWorkloadIsolation</c>.</param>
    /// <param name="configure">Sets the options.</param>
    /// <returns>The builder, for chaining.</returns>
    public static IWorkloadIsolationBuilder ConfigureHttp(this IWorkloadIsolationBuilder builder, Action<WorkloadIsolationHttpOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(configure);

        // The section's Http part first, so that code comes after it and start-up checks what the pipeline will read.
        builder.Services.TryAddEnumerable(ServiceDescriptor.Singleton<IConfigureOptions<WorkloadIsolationHttpOptions>, HttpSettings.SectionBinding>());
        builder.Services.AddOptions<WorkloadIsolationHttpOptions>().Configure(configure).ValidateOnStart();
        builder.Services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<WorkloadIsolationHttpOptions>, WorkloadIsolationHttpOptionsValidator>());
        return builder;
    }

    /// <summary>
    /// Adds a classifier for requests that endpoint metadata and configured rules leave unclassified. Classifiers run
    /// in registration order; adding the same type twice adds it once.
    /// </summary>
    /// <typeparam name="TClassifier">The classifier, created once from DI.</typeparam>
    /// <param name="builder">The builder from <c>AddWorkloadIsolation</c>.</param>
    /// <returns>The builder, for chaining.</returns>
    public static IWorkloadIsolationBuilder AddClassifier<[DynamicallyAccessedMembers(DynamicallyAccessedMemberTypes.PublicConstructors)] TClassifier>(this IWorkloadIsolationBuilder builder)
        where TClassifier : class, IWorkloadClassifier
    {
        ArgumentNullException.ThrowIfNull(builder);

        builder.Services.TryAddEnumerable(ServiceDescriptor.Singleton<IWorkloadClassifier, TClassifier>());
        return builder;
    }
}
