using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Bulkhead.AspNetCore.Propagation.Internal;

/// <summary>
/// What a request takes from its caller when propagation is on: from a trusted caller, the workload class it carries
/// (a configured one) and the time it still waits; from anyone else, nothing. And what the request's own code sees: a
/// <see cref="WorkloadContext"/> for the class it runs in and its deadline.
/// </summary>
internal sealed partial class IncomingPropagation
{
    // Beyond this a caller's time is no deadline at all (and adding it to the clock could overflow).
    private const long LongestTimeoutMs = 24 * 60 * 60 * 1000;

    private readonly string _classHeader;
    private readonly string _timeoutHeader;
    private readonly IPNetwork[] _trustedNetworks;
    private readonly Func<HttpContext, bool>? _isTrustedCaller;
    private readonly IWorkloadScheduler _scheduler;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;

    // A request without a deadline shares its class's context: the common case allocates no context of its own.
    private readonly ConcurrentDictionary<string, WorkloadContext> _byClass = new(StringComparer.Ordinal);

    public IncomingPropagation(WorkloadPropagationOptions options, IWorkloadScheduler scheduler, TimeProvider time, ILogger logger)
    {
        _classHeader = options.ClassHeader;
        _timeoutHeader = options.TimeoutHeader;
        _trustedNetworks = [.. options.TrustedNetworks.Select(n => IPNetwork.Parse(n))];
        _isTrustedCaller = options.IsTrustedCaller;
        _scheduler = scheduler;
        _time = time;
        _logger = logger;
    }

    /// <summary>
    /// The class a request runs in, the one it was classified in unless a trusted caller names another configured
    /// class, and the deadline a trusted caller set (<see langword="null"/> for none).
    /// </summary>
    public WorkloadClass Read(HttpContext context, WorkloadClass classified, out DateTimeOffset? deadline)
    {
        deadline = null;
        IHeaderDictionary headers = context.Request.Headers;
        bool carriesClass = headers.TryGetValue(_classHeader, out Microsoft.Extensions.Primitives.StringValues named);
        bool carriesTimeout = headers.TryGetValue(_timeoutHeader, out Microsoft.Extensions.Primitives.StringValues timeout);
        if (!carriesClass && !carriesTimeout)
        {
            return classified;
        }

        if (!IsTrusted(context))
        {
            LogUntrusted(_logger, context.Connection.RemoteIpAddress?.ToString() ?? "(unknown)");
            return classified;
        }

        if (carriesTimeout && long.TryParse(timeout.ToString(), NumberStyles.None, CultureInfo.InvariantCulture, out long milliseconds))
        {
            deadline = _time.GetUtcNow() + TimeSpan.FromMilliseconds(Math.Min(milliseconds, LongestTimeoutMs));
        }

        return carriesClass && _scheduler.TryGetClass(named.ToString(), out WorkloadClass? propagated) ? propagated : classified;
    }

    /// <summary>What the request's code sees as its unit of work.</summary>
    public WorkloadContext ContextFor(WorkloadClass workloadClass, DateTimeOffset? deadline) =>
        deadline is null
            ? _byClass.GetOrAdd(workloadClass.Name, static name => new WorkloadContext(name))
            : new WorkloadContext(workloadClass.Name, deadline);

    private bool IsTrusted(HttpContext context)
    {
        if (context.Connection.RemoteIpAddress is { } address)
        {
            address = address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address;
            foreach (IPNetwork network in _trustedNetworks)
            {
                if (network.Contains(address))
                {
                    return true;
                }
            }
        }

        return _isTrustedCaller?.Invoke(context) == true;
    }

    [LoggerMessage(6, LogLevel.Debug, "A request from {Address}, not a trusted caller (Propagation:TrustedNetworks, IsTrustedCaller), carried a workload class or a deadline; both were ignored.")]
    private static partial void LogUntrusted(ILogger logger, string address);
}
