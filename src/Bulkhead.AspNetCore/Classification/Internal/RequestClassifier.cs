using System.Collections.Concurrent;
using Bulkhead.Admission.Internal;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Bulkhead.AspNetCore.Classification.Internal;

/// <summary>
/// Puts a request in a class, first match wins: endpoint metadata, configured rules, registered classifiers, then the
/// default class. A name that is not a configured class falls back to the default class, counted and logged once.
/// </summary>
internal sealed partial class RequestClassifier
{
    private const int MaxLoggedUnknownNames = 256;

    private readonly WorkloadScheduler _scheduler;
    private readonly CompiledRule[] _rules;
    private readonly IWorkloadClassifier[] _classifiers;
    private readonly Func<HttpContext, string?>? _partitionKey;
    private readonly string? _partitionClaim;
    private readonly string? _partitionHeader;
    private readonly ILogger _logger;
    private readonly ConcurrentDictionary<string, bool> _loggedUnknownNames = new(StringComparer.Ordinal);

    public RequestClassifier(
        WorkloadScheduler scheduler,
        WorkloadIsolationOptions options,
        WorkloadIsolationHttpOptions httpOptions,
        IEnumerable<IWorkloadClassifier> classifiers,
        ILogger logger)
    {
        _scheduler = scheduler;
        _logger = logger;
        _rules = [.. options.Rules.Select(rule => new CompiledRule(rule, scheduler.Resolve(rule.Class!)))];
        _classifiers = [.. classifiers];
        _partitionKey = httpOptions.PartitionKey;
        _partitionClaim = httpOptions.PartitionClaim;
        _partitionHeader = httpOptions.PartitionHeader;
        if (_partitionHeader is not null && !options.TrustedHeaders.Contains(_partitionHeader))
        {
            throw new InvalidOperationException(
                $"WorkloadIsolationHttpOptions.PartitionHeader '{_partitionHeader}' is not in WorkloadIsolationOptions.TrustedHeaders; only a header a gateway sets may choose a partition.");
        }
    }

    public ClassState Classify(HttpContext context, Endpoint? endpoint)
    {
        if (endpoint?.Metadata.GetMetadata<IWorkloadClassMetadata>() is { } metadata)
        {
            return FromMetadata(metadata);
        }

        foreach (CompiledRule rule in _rules)
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

        return _scheduler.DefaultClass;
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

        if (_partitionHeader is not null && context.Request.Headers.TryGetValue(_partitionHeader, out var value))
        {
            return value.ToString();
        }

        return null;
    }

    private ClassState FromMetadata(IWorkloadClassMetadata metadata)
    {
        // The attribute remembers what its name resolved to, so that most requests skip the lookup.
        if (metadata is WorkloadClassAttribute attribute)
        {
            if (attribute.Resolved is ClassState cached && cached.Engine == _scheduler.Engine)
            {
                return cached;
            }

            ClassState resolved = ResolveOrDefault(attribute.WorkloadClass, "endpoint metadata");
            if (resolved != _scheduler.DefaultClass || _scheduler.TryResolve(attribute.WorkloadClass, out _))
            {
                attribute.Resolved = resolved;
            }

            return resolved;
        }

        return ResolveOrDefault(metadata.WorkloadClass, "endpoint metadata");
    }

    private ClassState ResolveOrDefault(string name, string source)
    {
        if (_scheduler.TryResolve(name, out ClassState? found))
        {
            return found;
        }

        Interlocked.Increment(ref _scheduler.UnknownClassFallbacks);
        if (_loggedUnknownNames.Count < MaxLoggedUnknownNames && _loggedUnknownNames.TryAdd(name, true))
        {
            LogUnknownClass(_logger, name, source, _scheduler.DefaultClass.Name);
        }

        return _scheduler.DefaultClass;
    }

    [LoggerMessage(1, LogLevel.Warning, "Workload class '{WorkloadClass}' named by {Source} is not configured; its requests run in the default class '{DefaultClass}'.")]
    private static partial void LogUnknownClass(ILogger logger, string workloadClass, string source, string defaultClass);
}
