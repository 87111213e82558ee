using Bulkhead;
using Bulkhead.Redis;
using System.Diagnostics.Metrics;
using Bulkhead.Redis.Internal;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Makes the fleet-wide limits of Bulkhead's classes hold on Redis.</summary>
public static class RedisFleetBuilderExtensions
{
    /// <summary>
    /// Makes the classes' fleet-wide limits (<c>Fleet</c>: caps and a rate) hold across
    /// every replica sharing one Redis. Each replica takes permits and seats in batches and serves work from them, so
    /// most admissions make no round trip; when Redis is slow or down, it enforces its local share of each limit (or
    /// fails closed) and comes back by itself. See docs/fleet.md.
    /// </summary>
    /// <param name="builder">The builder from <c>AddWorkloadIsolation</c>.</param>
    /// <param name="configure">Sets the options: <see cref="RedisFleetOptions.Configuration"/>, or an <c>IConnectionMultiplexer</c> registered in the service collection.</param>
    /// <returns>The builder, for chaining.</returns>
    public static IWorkloadIsolationBuilder AddRedisFleetLimits(this IWorkloadIsolationBuilder builder, Action<RedisFleetOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(configure);
        builder.Services.Configure(configure);
        return builder.AddRedisFleetLimitsCore();
    }

    /// <summary>
    /// Makes the classes' fleet-wide limits hold on Redis, with the options bound from a configuration section (for
    /// example <c>RedisFleet</c>, holding <c>Configuration</c>, <c>ExpectedReplicas</c>, <c>Fallback</c>…).
    /// </summary>
    /// <param name="builder">The builder from <c>AddWorkloadIsolation</c>.</param>
    /// <param name="configuration">The section that holds the <see cref="RedisFleetOptions"/>.</param>
    /// <returns>The builder, for chaining.</returns>
    public static IWorkloadIsolationBuilder AddRedisFleetLimits(this IWorkloadIsolationBuilder builder, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(configuration);
        builder.Services.Configure<RedisFleetOptions>(configuration);
        return builder.AddRedisFleetLimitsCore();
    }

    private static IWorkloadIsolationBuilder AddRedisFleetLimitsCore(this IWorkloadIsolationBuilder builder)
    {
        IServiceCollection services = builder.Services;
        services.AddOptions<RedisFleetOptions>().ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<RedisFleetOptions>, RedisFleetOptionsValidator>());
        services.TryAddSingleton(static sp =>
        {
            RedisFleetOptions options = sp.GetRequiredService<IOptions<RedisFleetOptions>>().Value;
            (Task<IConnectionMultiplexer> connection, bool owns) = options.Configuration is { } configuration
                ? (Connect(configuration, options), true)
                : (Task.FromResult(sp.GetService<IConnectionMultiplexer>() ?? throw new InvalidOperationException(
                    "AddRedisFleetLimits needs Redis: set RedisFleetOptions.Configuration (a StackExchange.Redis configuration string such as \"localhost:6379\") or register an IConnectionMultiplexer.")), false);
            return new RedisFleetStore(
                options,
                connection,
                owns,
                sp.GetService<TimeProvider>() ?? TimeProvider.System,
                sp.GetService<ILoggerFactory>()?.CreateLogger("Bulkhead.Redis") ?? NullLogger.Instance,
                sp.GetService<IMeterFactory>());
        });
        services.TryAddSingleton<IWorkloadFleetLimiterFactory>(static sp => new RedisFleetLimiterFactory(sp.GetRequiredService<RedisFleetStore>()));
        return builder;
    }

    /// <summary>A connection that never holds start-up or a request back: it connects in the background and fails fast while down.</summary>
    /// <remarks>A malformed configuration string fails start-up.</remarks>
    private static Task<IConnectionMultiplexer> Connect(string configuration, RedisFleetOptions options)
    {
        ConfigurationOptions redis = ConfigurationOptions.Parse(configuration);
        redis.AbortOnConnectFail = false;
        redis.BacklogPolicy = BacklogPolicy.FailFast;
        int timeout = (int)Math.Max(options.OperationTimeout.TotalMilliseconds, 1);
        redis.AsyncTimeout = timeout;
        redis.SyncTimeout = timeout;
        redis.ConnectTimeout = Math.Max(timeout, 1000);
        return ConnectAsync(redis);

        static async Task<IConnectionMultiplexer> ConnectAsync(ConfigurationOptions redis) => await ConnectionMultiplexer.ConnectAsync(redis).ConfigureAwait(false);
    }
}
