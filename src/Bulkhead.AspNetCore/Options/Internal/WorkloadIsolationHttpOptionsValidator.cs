using System.Globalization;
using Bulkhead.AspNetCore.Middleware.Internal;
using Bulkhead.Options.Internal;
using Microsoft.Extensions.Options;
using Microsoft.Net.Http.Headers;

namespace Bulkhead.AspNetCore.Options.Internal;

/// <summary>
/// Checks the HTTP settings: a partition header and the headers rules read must be ones a gateway sets, and every rule
/// must name a class of the configuration it is to be used with (the one in force, or one a reload is about to put in force).
/// </summary>
internal sealed class WorkloadIsolationHttpOptionsValidator(Func<WorkloadIsolationOptions> classes) : IValidateOptions<WorkloadIsolationHttpOptions>
{
    /// <summary>Initializes a new instance of the <see cref="WorkloadIsolationHttpOptionsValidator"/> class that checks against the configuration in force.</summary>
    public WorkloadIsolationHttpOptionsValidator(IWorkloadIsolationMonitor monitor)
        : this(() => monitor.CurrentValue)
    {
    }

    public ValidateOptionsResult Validate(string? name, WorkloadIsolationHttpOptions httpOptions)
    {
        ArgumentNullException.ThrowIfNull(httpOptions);

        List<string> failures = [];
        if (httpOptions.PartitionHeader is { } header && !httpOptions.TrustedHeaders.Contains(header))
        {
            failures.Add($"WorkloadIsolationHttpOptions: PartitionHeader '{header}' is not in TrustedHeaders (WorkloadIsolation:Http:TrustedHeaders); only a header a gateway sets (and strips from clients) may choose a partition.");
        }

        ValidateRules(httpOptions, classes(), failures);
        if (httpOptions.WorkloadClassResponseHeader is { } classHeader)
        {
            if (!IsToken(classHeader))
            {
                failures.Add($"WorkloadIsolationHttpOptions: WorkloadClassResponseHeader '{classHeader}' is not a header name: use letters, digits and !#$%&'*+-.^_`|~ only (no spaces), for example X-Workload-Class.");
            }
            else if (ReservedHeaders.Contains(classHeader))
            {
                failures.Add($"WorkloadIsolationHttpOptions: WorkloadClassResponseHeader '{classHeader}' is a header that HTTP, the server or Bulkhead itself writes; choose one of your own, for example X-Workload-Class.");
            }
        }

        if (httpOptions.DefaultRetryAfter < TimeSpan.Zero)
        {
            failures.Add($"WorkloadIsolationHttpOptions: DefaultRetryAfter ({httpOptions.DefaultRetryAfter}) must be zero or positive.");
        }

        if (httpOptions.SlowRefusalsAbove < 0)
        {
            failures.Add($"WorkloadIsolationHttpOptions: SlowRefusalsAbove ({httpOptions.SlowRefusalsAbove}) must be zero (answer every refusal at once) or positive.");
        }

        ValidatePropagation(httpOptions.Propagation, failures);
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    private static void ValidateRules(WorkloadIsolationHttpOptions httpOptions, WorkloadIsolationOptions options, List<string> failures)
    {
        for (int i = 0; i < httpOptions.Rules.Count; i++)
        {
            WorkloadClassRule? rule = httpOptions.Rules[i];
            string prefix = string.Create(CultureInfo.InvariantCulture, $"WorkloadIsolation: Http: Rules[{i}]");
            if (rule is null)
            {
                failures.Add($"{prefix}: has no settings.");
                continue;
            }

            bool knownClass = options.Classes.Count == 0
                ? string.Equals(rule.Class, options.DefaultClass, StringComparison.OrdinalIgnoreCase)
                : rule.Class is not null && options.Classes.ContainsKey(rule.Class);
            if (!knownClass)
            {
                failures.Add($"{prefix}: Class '{rule.Class}' is not a configured class.");
            }

            if (rule.Weight < 1)
            {
                failures.Add(string.Create(CultureInfo.InvariantCulture, $"{prefix}: Weight must be 1 or more (is {rule.Weight})."));
            }
            else if (knownClass && rule.Weight > 1 && options.Classes.TryGetValue(rule.Class!, out WorkloadClassOptions? target))
            {
                int widest = WorkloadIsolationOptionsValidator.WidestUnit(options, target);
                if (rule.Weight > widest)
                {
                    failures.Add(string.Create(CultureInfo.InvariantCulture, $"{prefix}: Weight {rule.Weight} is more seats than class '{rule.Class}' can ever give ({widest}: its MaxConcurrency, its reservation and the shared pool, and its MaxConcurrencyPerPartition); its requests would all be rejected."));
                }
            }

            if (rule.PathPrefix is null && rule.Method is null && rule.Header is null && rule.Claim is null)
            {
                failures.Add($"{prefix}: sets no condition (PathPrefix, Method, Header or Claim).");
            }

            if (rule.PathPrefix is { } path && !path.StartsWith('/'))
            {
                failures.Add($"{prefix}: PathPrefix '{path}' must start with '/'.");
            }

            if (rule.HeaderValue is not null && rule.Header is null)
            {
                failures.Add($"{prefix}: HeaderValue '{rule.HeaderValue}' is set without Header; name the header it is compared with.");
            }

            if (rule.ClaimValue is not null && rule.Claim is null)
            {
                failures.Add($"{prefix}: ClaimValue '{rule.ClaimValue}' is set without Claim; name the claim type it is compared with.");
            }

            if (rule.Header is { } header && !httpOptions.TrustedHeaders.Contains(header))
            {
                failures.Add($"{prefix}: Header '{header}' is not in TrustedHeaders; only headers a gateway sets may choose a class.");
            }
        }
    }

    private static void ValidatePropagation(WorkloadPropagationOptions propagation, List<string> failures)
    {
        foreach ((string setting, string? header) in (ReadOnlySpan<(string, string?)>)[("ClassHeader", propagation.ClassHeader), ("TimeoutHeader", propagation.TimeoutHeader)])
        {
            if (header is null || !IsToken(header))
            {
                failures.Add($"WorkloadIsolationHttpOptions: Propagation:{setting} '{header}' is not a header name: use letters, digits and !#$%&'*+-.^_`|~ only (no spaces).");
            }
        }

        if (string.Equals(propagation.ClassHeader, propagation.TimeoutHeader, StringComparison.OrdinalIgnoreCase))
        {
            failures.Add($"WorkloadIsolationHttpOptions: Propagation:ClassHeader and Propagation:TimeoutHeader are both '{propagation.ClassHeader}'; they carry different things.");
        }

        foreach (string network in propagation.TrustedNetworks)
        {
            if (!System.Net.IPNetwork.TryParse(network, out System.Net.IPNetwork parsed))
            {
                failures.Add($"WorkloadIsolationHttpOptions: Propagation:TrustedNetworks '{network}' is not a network in CIDR notation (an address, '/', the prefix length: 10.0.0.0/8, 127.0.0.1/32, fd00::/8).");
            }
            else if (!network.StartsWith(parsed.BaseAddress.ToString() + "/", StringComparison.OrdinalIgnoreCase))
            {
                // 10.0.0.1/8 is read as 10.0.0.0/8: a typo for 10.0.0.1/32 would trust a whole network.
                failures.Add($"WorkloadIsolationHttpOptions: Propagation:TrustedNetworks '{network}' has bits set past its prefix: write the network '{parsed}', or the address alone with /32 (/128).");
            }
        }
    }

    // Headers that frame the message or the connection, that the server sets, or that Bulkhead writes itself: a class
    // name written over one of them breaks or falsifies every response.
    private static readonly HashSet<string> ReservedHeaders = new(StringComparer.OrdinalIgnoreCase)
    {
        HeaderNames.Connection, HeaderNames.ContentEncoding, HeaderNames.ContentLength, HeaderNames.ContentRange,
        HeaderNames.ContentType, HeaderNames.Date, HeaderNames.Host, HeaderNames.KeepAlive, HeaderNames.Location,
        HeaderNames.ProxyConnection, HeaderNames.RetryAfter, HeaderNames.Server, HeaderNames.SetCookie, HeaderNames.TE,
        HeaderNames.Trailer, HeaderNames.TransferEncoding, HeaderNames.Upgrade, HeaderNames.WWWAuthenticate,
        HeaderNames.ContentSecurityPolicy, HeaderNames.XContentTypeOptions, RateLimitHeaders.Current, RateLimitHeaders.Policy,
    };

    // RFC 9110, section 5.6.2: what a header name may be.
    private static bool IsToken(string name) =>
        name.Length > 0 && name.All(ch => char.IsAsciiLetterOrDigit(ch) || "!#$%&'*+-.^_`|~".Contains(ch, StringComparison.Ordinal));
}
