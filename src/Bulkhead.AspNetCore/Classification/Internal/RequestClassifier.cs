using System.Collections.Concurrent;
using Bulkhead.AspNetCore.Telemetry.Internal;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Bulkhead.AspNetCore.Classification.Internal;

/// <summary>
/// Puts a request in a class, first match wins: endpoint metadata, configured rules, registered classifiers, then the
/// default class. A name that is not a configured class falls back to the default class, counted and logged once.
/// Rules and trusted headers follow the configuration in force.
/// </summary>
internal sealed partial class RequestClassifier
{
    private const int MaxLoggedUnknownNames = 256;

    private readonly IWorkloadScheduler _scheduler;
    private readonly IWorkloadClassifier[] _classifiers;
    private readonly Func<HttpContext, string?>? _partitionKey;
    private readonly string? _partitionClaim;
    private readonly string? _partitionHeader;
    private readonly HttpIsolationCounters _counters;
    private readonly ILogger _logger;
    private readonly ConcurrentDictionary<string, bool> _loggedUnknownNames = new(StringComparer.Ordinal);

    // Endpoint metadata is immutable and shared across hosts; what its name resolves to is remembered here, per
    // metadata instance, and forgotten when the configuration changes.
    private readonly ConcurrentDictionary<IWorkloadClassMetadata, WorkloadClass> _byMetadata = new(ReferenceEqualityComparer.Instance);
    private CompiledRules _rules;

    public RequestClassifier(
        IWorkloadScheduler scheduler,
        IWorkloadIsolationMonitor monitor,
        WorkloadIsolationHttpOptions httpOptions,
        IEnumerable<IWorkloadClassifier> classifiers,
        HttpIsolationCounters counters,
        ILogger logger)
    {
        _scheduler = scheduler;
        _counters = counters;
        _logger = logger;
        _classifiers = [.. classifiers];
        _partitionKey = httpOptions.PartitionKey;
        _partitionClaim = httpOptions.PartitionClaim;
        _partitionHeader = httpOptions.PartitionHeader;
        _rules = Compile(monitor.CurrentValue);
        monitor.OnChange(options =>
        {
            Volatile.Write(ref _rules, Compile(options));
            _byMetadata.Clear();
        });
    }

    public WorkloadClass Classify(HttpContext context, Endpoint? endpoint)
    {
        if (endpoint?.Metadata.GetMetadata<IWorkloadClassMetadata>() is { } metadata)
        {
            return _byMetadata.TryGetValue(metadata, out WorkloadClass? cached) ? cached : FromMetadata(metadata);
        }

        CompiledRules compiled = Volatile.Read(ref _rules);
        foreach (CompiledRule rule in compiled.Rules)
        {
            if (rule.Matches(context))
            {
                return rule.Class;
            }
        }

        foreach (IWorkloadClassifier classifier in _classifiers)
        {
            if (classifier.Classify(context) is { } name)
            {
                return ResolveOrDefault(name, "a classifier");
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

    private WorkloadClass FromMetadata(IWorkloadClassMetadata metadata)
    {
        if (_scheduler.TryGetClass(metadata.WorkloadClass, out WorkloadClass? found))
        {
            _byMetadata.TryAdd(metadata, found);
            return found;
        }

        return Fallback(metadata.WorkloadClass, "endpoint metadata");
    }

    private WorkloadClass ResolveOrDefault(string name, string source) =>
        _scheduler.TryGetClass(name, out WorkloadClass? found) ? found : Fallback(name, source);

    private WorkloadClass Fallback(string name, string source)
    {
        WorkloadClass defaultClass = _scheduler.DefaultClass;
        Interlocked.Increment(ref _counters.UnknownClassFallbacks);
        if (_loggedUnknownNames.Count < MaxLoggedUnknownNames && _loggedUnknownNames.TryAdd(name, true))
        {
            LogUnknownClass(_logger, name, source, defaultClass.Name);
        }

        return defaultClass;
    }

    private CompiledRules Compile(WorkloadIsolationOptions options)
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

    [LoggerMessage(3, LogLevel.Error, "PartitionHeader '{Header}' is no longer in WorkloadIsolation:TrustedHeaders; requests are not partitioned by it until it is.")]
    private static partial void LogUntrustedPartitionHeader(ILogger logger, string header);

    /// <summary>What the configuration in force says, made once per configuration: rules, header trust, the default class.</summary>
    private sealed record CompiledRules(CompiledRule[] Rules, bool PartitionHeaderTrusted, WorkloadClass DefaultClass);
}
