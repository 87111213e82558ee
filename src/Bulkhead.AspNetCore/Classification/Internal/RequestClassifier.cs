using System.Collections.Concurrent;
using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Bulkhead.Telemetry.Internal;

namespace Bulkhead.AspNetCore.Classification.Internal;

/// <summary>
/// Puts a request in a class, first match wins: endpoint metadata (or its exemption), configured rules, registered classifiers, then the
/// default class. A name that is not a configured class falls back to the default class, counted and logged once.
/// Rules and trusted headers follow the configuration in force.
/// </summary>
internal sealed partial class RequestClassifier
{
    private const int MaxLoggedUnknownNames = 256;
    private const int MaxRoutedEndpoints = 16_384;

    private readonly IWorkloadScheduler _scheduler;
    private readonly IWorkloadClassifier[] _classifiers;
    private readonly Func<HttpContext, string?>? _partitionKey;
    private readonly string? _partitionClaim;
    private readonly string? _partitionHeader;
    private readonly bool _exemptWellKnown;
    private readonly FrontEndCounters _counters;
    private readonly ILogger _logger;
    private readonly ConcurrentDictionary<string, bool> _loggedUnknownNames = new(StringComparer.Ordinal);

    // Endpoint metadata is immutable and shared across hosts; what it decides is remembered here, per endpoint (one
    // lookup instead of two metadata searches on every request), and forgotten when the configuration changes.
    private readonly ConcurrentDictionary<Endpoint, EndpointRoute> _byEndpoint = new(ReferenceEqualityComparer.Instance);
    private CompiledRules _rules;

    // The HTTP settings whose rules are in force, and those read for the configuration a reload is about to put in force.
    private WorkloadIsolationHttpOptions _http;
    private PendingRules? _pending;

    /// <param name="scheduler">The scheduler whose classes requests run in.</param>
    /// <param name="monitor">The configuration in force, whose reloads the rules follow.</param>
    /// <param name="httpOptions">The HTTP settings read when the pipeline was built.</param>
    /// <param name="reread">Reads the HTTP settings again, checked against the classes of a configuration about to be put in force.</param>
    /// <param name="classifiers">The registered classifiers.</param>
    /// <param name="counters">The front end's counters.</param>
    /// <param name="logger">Where problems are reported.</param>
    public RequestClassifier(
        IWorkloadScheduler scheduler,
        IWorkloadIsolationMonitor monitor,
        WorkloadIsolationHttpOptions httpOptions,
        Func<WorkloadIsolationOptions, WorkloadIsolationHttpOptions> reread,
        IEnumerable<IWorkloadClassifier> classifiers,
        FrontEndCounters counters,
        ILogger logger)
    {
        _scheduler = scheduler;
        _counters = counters;
        _logger = logger;
        _classifiers = [.. classifiers];
        _partitionKey = httpOptions.PartitionKey;
        _partitionClaim = httpOptions.PartitionClaim;
        _partitionHeader = httpOptions.PartitionHeader;
        _exemptWellKnown = httpOptions.ExemptWellKnownEndpoints;
        _http = httpOptions;
        _rules = Compile(httpOptions);

        // A reload's rules are read and checked with its classes before it is put in force (a rule naming a class the
        // reload removes refuses the reload whole), and put in force with them.
        monitor.AddCheck(candidate =>
        {
            try
            {
                Volatile.Write(ref _pending, new PendingRules(candidate, reread(candidate)));
                return [];
            }
            catch (OptionsValidationException exception)
            {
                return [.. exception.Failures];
            }
        });
        monitor.OnChange(options =>
        {
            if (Volatile.Read(ref _pending) is { } pending && ReferenceEquals(pending.Options, options))
            {
                Volatile.Write(ref _http, pending.Http);
            }

            // Put in force without a reload (the options applied directly): the rules in force, with the classes now in force.
            Volatile.Write(ref _rules, Compile(Volatile.Read(ref _http)));
            _byEndpoint.Clear();
        });
    }

    /// <summary>
    /// Gets the request's class, or <see langword="null"/> when its endpoint is exempt from isolation.
    /// </summary>
    public WorkloadClass? Classify(HttpContext context, Endpoint? endpoint) => Classify(context, endpoint, out _, out _);

    /// <summary>
    /// The request's class and the seats it takes there: its endpoint's or its rule's weight, else (1) its endpoint as
    /// the cost key a class that learns weights learns by.
    /// </summary>
    public WorkloadClass? Classify(HttpContext context, Endpoint? endpoint, out int weight, out string? costKey)
    {
        weight = 1;
        costKey = null;
        if (endpoint is not null)
        {
            EndpointRoute route = _byEndpoint.TryGetValue(endpoint, out EndpointRoute? cached) ? cached : Route(endpoint);
            weight = route.Weight;
            costKey = route.CostKey;
            if (route.Class is { } routed)
            {
                return routed;
            }

            if (route.Exempt)
            {
                return null;
            }

            if (route.UnknownName is { } name)
            {
                return ResolveOrDefault(name, "endpoint metadata");
            }
        }

        CompiledRules compiled = Volatile.Read(ref _rules);
        foreach (CompiledRule rule in compiled.Rules)
        {
            if (rule.Matches(context))
            {
                weight = rule.Weight;
                costKey = weight == 1 ? costKey : null;
                return rule.Class;
            }
        }

        foreach (IWorkloadClassifier classifier in _classifiers)
        {
            if (classifier.Classify(context) is { } classified)
            {
                return ResolveOrDefault(classified, "a classifier");
            }
        }

        return compiled.DefaultClass;
    }

    public string? GetPartition(HttpContext context)
    {
        if (_partitionKey is not null)
        {
            return _partitionKey(context);
        }

        if (_partitionClaim is not null && context.User.FindFirst(_partitionClaim) is { } claim)
        {
            return claim.Value;
        }

        if (_partitionHeader is not null && Volatile.Read(ref _rules).PartitionHeaderTrusted
            && context.Request.Headers.TryGetValue(_partitionHeader, out var value))
        {
            return value.ToString();
        }

        return null;
    }

    /// <summary>
    /// Whether the endpoint must answer during an overload though nobody marked it: a health check endpoint
    /// (<c>MapHealthChecks</c> names its endpoints so) or a metrics scrape (the route <c>/metrics</c>).
    /// </summary>
    private static bool IsWellKnown(Endpoint endpoint) =>
        endpoint.DisplayName == HealthChecksDisplayName
        || (endpoint is Microsoft.AspNetCore.Routing.RouteEndpoint { RoutePattern.RawText: { } pattern } && pattern.Trim('/').Equals("metrics", StringComparison.OrdinalIgnoreCase));

    /// <summary>The display name ASP.NET Core's <c>MapHealthChecks</c> gives its endpoints (unless the app renames them).</summary>
    private const string HealthChecksDisplayName = "Health checks";

    /// <summary>What an endpoint's metadata decides, looked at once per endpoint and configuration.</summary>
    private EndpointRoute Route(Endpoint endpoint)
    {
        EndpointRoute route;
        if (endpoint.Metadata.GetMetadata<IDisableWorkloadIsolationMetadata>() is not null)
        {
            route = EndpointRoute.Exempted;
        }
        else if (endpoint.Metadata.GetMetadata<IWorkloadClassMetadata>() is { } metadata)
        {
            // A name that is not configured is resolved on every request, so that each fallback is counted and a class
            // added later under that name is found.
            route = _scheduler.TryGetClass(metadata.WorkloadClass, out WorkloadClass? found)
                ? new EndpointRoute(found, Exempt: false, UnknownName: null, metadata.Weight, CostKeyOf(endpoint, metadata.Weight))
                : new EndpointRoute(null, Exempt: false, metadata.WorkloadClass, metadata.Weight, CostKeyOf(endpoint, metadata.Weight));
        }
        else if (_exemptWellKnown && IsWellKnown(endpoint))
        {
            route = EndpointRoute.Exempted;
        }
        else
        {
            route = new EndpointRoute(null, Exempt: false, UnknownName: null, Weight: 1, CostKeyOf(endpoint, 1));
        }

        if (_byEndpoint.Count >= MaxRoutedEndpoints)
        {
            // Endpoints come and go with dynamic endpoint sources: a bounded memory of them, rebuilt as requests come.
            _byEndpoint.Clear();
        }

        _byEndpoint.TryAdd(endpoint, route);
        return route;
    }

    private WorkloadClass ResolveOrDefault(string name, string source) =>
        _scheduler.TryGetClass(name, out WorkloadClass? found) ? found : Fallback(name, source);

    private WorkloadClass Fallback(string name, string source)
    {
        WorkloadClass defaultClass = _scheduler.DefaultClass;
        _counters.CountUnknownClassFallback();
        if (_loggedUnknownNames.Count < MaxLoggedUnknownNames && _loggedUnknownNames.TryAdd(name, true))
        {
            // The name may come from the request (a classifier reading a header): control characters are escaped, so
            // that a client cannot forge log lines or drive a console.
            LogUnknownClass(_logger, JavaScriptEncoder.UnsafeRelaxedJsonEscaping.Encode(name), source, defaultClass.Name);
        }

        return defaultClass;
    }

    private CompiledRules Compile(WorkloadIsolationHttpOptions options)
    {
        List<CompiledRule> rules = [];
        foreach (WorkloadClassRule rule in options.Rules)
        {
            if (rule.Class is not null && _scheduler.TryGetClass(rule.Class, out WorkloadClass? target))
            {
                rules.Add(new CompiledRule(rule, target));
            }
        }

        bool trusted = _partitionHeader is null || options.TrustedHeaders.Contains(_partitionHeader);
        if (!trusted)
        {
            LogUntrustedPartitionHeader(_logger, _partitionHeader!);
        }

        return new CompiledRules([.. rules], trusted, _scheduler.DefaultClass);
    }

    [LoggerMessage(1, LogLevel.Warning, "Workload class '{WorkloadClass}' named by {Source} is not configured; its requests run in the default class '{DefaultClass}'.")]
    private static partial void LogUnknownClass(ILogger logger, string workloadClass, string source, string defaultClass);

    [LoggerMessage(3, LogLevel.Error, "PartitionHeader '{Header}' is no longer in WorkloadIsolation:Http:TrustedHeaders; requests are not partitioned by it until it is.")]
    private static partial void LogUntrustedPartitionHeader(ILogger logger, string header);

    /// <summary>The HTTP settings read and checked for a configuration a reload is about to put in force.</summary>
    private sealed record PendingRules(WorkloadIsolationOptions Options, WorkloadIsolationHttpOptions Http);

    /// <summary>What the configuration in force says, made once per configuration: rules, header trust, the default class.</summary>
    private sealed record CompiledRules(CompiledRule[] Rules, bool PartitionHeaderTrusted, WorkloadClass DefaultClass);

    /// <summary>
    /// What an endpoint's metadata decides: a class, exemption, a class name that is not configured, or nothing (the
    /// request's rules, classifiers and the default class decide).
    /// </summary>
    /// <summary>What a class that learns weights learns an endpoint's cost by: its display name (method and route), unless the endpoint sets its weight.</summary>
    private static string? CostKeyOf(Endpoint endpoint, int weight) => weight == 1 ? endpoint.DisplayName : null;

    private sealed record EndpointRoute(WorkloadClass? Class, bool Exempt, string? UnknownName, int Weight = 1, string? CostKey = null)
    {
        public static readonly EndpointRoute Exempted = new(null, Exempt: true, UnknownName: null);

    }
}
