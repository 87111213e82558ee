using System.Security.Claims;
using Bulkhead.AspNetCore.Classification.Internal;
using Bulkhead.AspNetCore.Options.Internal;
using Microsoft.Extensions.Options;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using Bulkhead.Telemetry.Internal;

namespace Bulkhead.AspNetCore.Tests.Classification;

public sealed class RequestClassifierTests : IDisposable
{
    private readonly WorkloadIsolationOptions _options = new WorkloadIsolationOptions { DefaultClass = "interactive" }
        .AddClass("interactive")
        .AddClass("reporting", c => c.Priority = 2)
        .AddClass("admin", c => c.Priority = 1)
        .AddClass("batch", c => c.Priority = 3);

    private readonly FrontEndCounters _counters = new();
    private TestScheduler? _scheduler;

    /// <summary>The rules every test classifies by, added to the HTTP settings it is given.</summary>
    private static WorkloadIsolationHttpOptions WithRules(WorkloadIsolationHttpOptions http)
    {
        http.TrustedHeaders.Add("X-Gateway-Class");
        http.Rules.Add(new WorkloadClassRule { PathPrefix = "/reports", Class = "reporting" });
        http.Rules.Add(new WorkloadClassRule { Method = "DELETE", Class = "admin" });
        http.Rules.Add(new WorkloadClassRule { Header = "X-Gateway-Class", HeaderValue = "batch", Class = "batch" });
        http.Rules.Add(new WorkloadClassRule { Claim = "role", ClaimValue = "operator", Class = "admin" });
        return http;
    }

    [Fact]
    public void Classify_EndpointMetadata_WinsOverRules()
    {
        RequestClassifier classifier = Create();
        HttpContext context = Request("/reports/7");

        WorkloadClass result = classifier.Classify(context, PipelineFactory.Endpoint(new WorkloadClassAttribute("batch")))!;

        Assert.Equal("batch", result.Name);
    }

    [Fact]
    public void Classify_LastMetadataWins_SoAnActionOverridesItsController()
    {
        RequestClassifier classifier = Create();

        WorkloadClass result = classifier.Classify(Request("/"), PipelineFactory.Endpoint(new WorkloadClassAttribute("admin"), new WorkloadClassAttribute("reporting")))!;

        Assert.Equal("reporting", result.Name);
    }

    [Theory]
    [InlineData("/reports", "GET", "reporting")]
    [InlineData("/REPORTS/monthly", "GET", "reporting")]
    [InlineData("/reportsx", "GET", "interactive")]
    [InlineData("/users/1", "DELETE", "admin")]
    [InlineData("/users/1", "GET", "interactive")]
    public void Classify_PathAndMethodRules_FirstMatchWins(string path, string method, string expected)
    {
        RequestClassifier classifier = Create();

        Assert.Equal(expected, classifier.Classify(Request(path, method), endpoint: null)!.Name);
    }

    [Fact]
    public void Classify_TrustedHeaderRule_MatchesItsValueOnly()
    {
        RequestClassifier classifier = Create();
        HttpContext matching = Request("/");
        matching.Request.Headers["X-Gateway-Class"] = "batch";
        HttpContext other = Request("/");
        other.Request.Headers["X-Gateway-Class"] = "interactive-please";

        Assert.Equal("batch", classifier.Classify(matching, null)!.Name);
        Assert.Equal("interactive", classifier.Classify(other, null)!.Name);
    }

    [Fact]
    public void Classify_UntrustedHeaderNamingAClass_IsIgnored()
    {
        RequestClassifier classifier = Create();
        HttpContext context = Request("/");
        context.Request.Headers["X-Workload-Class"] = "admin";

        Assert.Equal("interactive", classifier.Classify(context, null)!.Name);
    }

    [Fact]
    public void Classify_ClaimRule_MatchesAuthenticatedClaim()
    {
        RequestClassifier classifier = Create();
        HttpContext context = Request("/");
        context.User = new ClaimsPrincipal(new ClaimsIdentity([new Claim("role", "operator")], "test"));

        Assert.Equal("admin", classifier.Classify(context, null)!.Name);
    }

    [Fact]
    public void Classify_NoRuleMatches_AsksClassifiersInOrderThenDefault()
    {
        RequestClassifier classifier = Create(new FixedClassifier(null), new FixedClassifier("batch"), new FixedClassifier("admin"));

        Assert.Equal("batch", classifier.Classify(Request("/other"), null)!.Name);
        Assert.Equal("interactive", Create(new FixedClassifier(null)).Classify(Request("/other"), null)!.Name);
    }

    [Fact]
    public void Classify_UnknownClassFromMetadataOrClassifier_FallsBackToDefaultAndCounts()
    {
        RequestClassifier classifier = Create(new FixedClassifier("no-such-class"));

        WorkloadClass fromMetadata = classifier.Classify(Request("/"), PipelineFactory.Endpoint(new WorkloadClassAttribute("reportng")))!;
        WorkloadClass fromClassifier = classifier.Classify(Request("/other"), null)!;
        classifier.Classify(Request("/other"), null);

        Assert.Equal("interactive", fromMetadata.Name);
        Assert.Equal("interactive", fromClassifier.Name);
        Assert.Equal(3, _counters.UnknownClassFallbacks);
    }

    [Fact]
    public void Classify_UnknownClassName_IsLoggedOncePerName()
    {
        var logs = new ListLoggerProvider();
        _scheduler = TestScheduler.Create(_options, new FakeTimeProvider());
        var classifier = new RequestClassifier(_scheduler, _scheduler, new(), _ => new(), [], _counters, logs.CreateLogger("test"));

        for (int i = 0; i < 5; i++)
        {
            classifier.Classify(Request("/"), PipelineFactory.Endpoint(new WorkloadClassAttribute("typo-one")));
            classifier.Classify(Request("/"), PipelineFactory.Endpoint(new WorkloadClassAttribute("typo-two")));
        }

        Assert.Equal(10, _counters.UnknownClassFallbacks);
        Assert.Equal(2, logs.Messages.Count(m => m.Level == LogLevel.Warning));
        Assert.Contains(logs.Messages, m => m.Message.Contains("'typo-one'", StringComparison.Ordinal) && m.Message.Contains("'interactive'", StringComparison.Ordinal));
    }

    [Fact]
    public void Classify_UnknownNameWithControlCharacters_IsLoggedWithThemEscaped()
    {
        // A classifier that reads a header hands the client's text to the log: ESC, backspace, DEL and line breaks
        // must not reach it as they are.
        var logs = new ListLoggerProvider();
        _scheduler = TestScheduler.Create(_options, new FakeTimeProvider());
        var classifier = new RequestClassifier(_scheduler, _scheduler, new(), _ => new(), [new FixedClassifier("evil\u001b[2J\b\u007f\r\nforged line")], _counters, logs.CreateLogger("test"));

        classifier.Classify(Request("/"), endpoint: null);

        (_, string message) = Assert.Single(logs.Messages);
        Assert.DoesNotContain(message, ch => char.IsControl(ch));
        Assert.Contains("evil\\u001B[2J\\b\\u007F\\r\\nforged line", message, StringComparison.Ordinal);
    }

    [Fact]
    public void Classify_MetadataNameInOtherCase_FindsTheClass()
    {
        RequestClassifier classifier = Create();

        Assert.Equal("reporting", classifier.Classify(Request("/"), PipelineFactory.Endpoint(new WorkloadClassAttribute("Reporting")))!.Name);
    }

    [Fact]
    public void GetPartition_DelegateClaimAndHeader_InThatOrder()
    {
        HttpContext context = Request("/");
        context.Request.Headers["X-Tenant"] = "from-header";
        context.User = new ClaimsPrincipal(new ClaimsIdentity([new Claim("tenant", "from-claim")], "test"));

        Assert.Equal("from-delegate", Create(http: new() { PartitionKey = _ => "from-delegate", PartitionClaim = "tenant" }).GetPartition(context));
        Assert.Equal("from-claim", Create(http: new() { PartitionClaim = "tenant", PartitionHeader = "X-Tenant", TrustedHeaders = { "X-Tenant" } }).GetPartition(context));
        Assert.Equal("from-header", Create(http: new() { PartitionHeader = "X-Tenant", TrustedHeaders = { "X-Tenant" } }).GetPartition(context));
        Assert.Null(Create().GetPartition(context));
    }

    [Fact]
    public void Validate_PartitionHeaderNotTrusted_FailsNamingTheHeaderAndTrustedHeaders()
    {
        var validator = new WorkloadIsolationHttpOptionsValidator(() => _options);

        ValidateOptionsResult result = validator.Validate(null, new WorkloadIsolationHttpOptions { PartitionHeader = "X-Tenant", TrustedHeaders = { "X-Gateway-Class" } });

        Assert.True(result.Failed);
        Assert.Contains("'X-Tenant'", result.FailureMessage, StringComparison.Ordinal);
        Assert.Contains("TrustedHeaders", result.FailureMessage, StringComparison.Ordinal);
        Assert.True(validator.Validate(null, new WorkloadIsolationHttpOptions { PartitionHeader = "x-gateway-class", TrustedHeaders = { "X-Gateway-Class" } }).Succeeded);
    }

    [Fact]
    public void Validate_Rules_EachProblemNamesTheRule()
    {
        var validator = new WorkloadIsolationHttpOptionsValidator(() => _options);
        var http = new WorkloadIsolationHttpOptions { TrustedHeaders = { "X-Gateway-Class" } };
        http.Rules.Add(new WorkloadClassRule { PathPrefix = "/reports", Class = "reporting" });
        http.Rules.Add(new WorkloadClassRule { PathPrefix = "/x", Class = "nope" });
        http.Rules.Add(new WorkloadClassRule { Class = "reporting" });
        http.Rules.Add(new WorkloadClassRule { PathPrefix = "reports", Class = "reporting" });
        http.Rules.Add(new WorkloadClassRule { Header = "X-Workload", HeaderValue = "reporting", Class = "reporting" });
        http.Rules.Add(new WorkloadClassRule { Header = "x-gateway-class", HeaderValue = "reporting", Class = "Reporting" });

        string[] failures = [.. validator.Validate(null, http).Failures!];

        Assert.Equal(
            [
                "WorkloadIsolation: Http: Rules[1]: Class 'nope' is not a configured class.",
                "WorkloadIsolation: Http: Rules[2]: sets no condition (PathPrefix, Method, Header or Claim).",
                "WorkloadIsolation: Http: Rules[3]: PathPrefix 'reports' must start with '/'.",
                "WorkloadIsolation: Http: Rules[4]: Header 'X-Workload' is not in TrustedHeaders; only headers a gateway sets may choose a class.",
            ],
            failures);
    }

    [Fact]
    public void GetPartition_HeaderNoLongerTrustedAfterReload_IsNotRead()
    {
        // The pipeline reads its partition header once; a reload whose HTTP settings name another header, and trust
        // only that one, leaves the first untrusted: it is no longer read.
        RequestClassifier classifier = Create(
            http: new() { PartitionHeader = "X-Tenant", TrustedHeaders = { "X-Tenant" } },
            reread: _ => new() { PartitionHeader = "X-Customer", TrustedHeaders = { "X-Customer" } });
        HttpContext context = Request("/");
        context.Request.Headers["X-Tenant"] = "from-header";
        Assert.Equal("from-header", classifier.GetPartition(context));

        Assert.True(Reload(new WorkloadIsolationOptions { DefaultClass = "interactive" }.AddClass("interactive")));

        Assert.Null(classifier.GetPartition(context));
    }

    [Fact]
    public void Reload_RulesFollowTheConfiguration_AndOneNamingAClassTheReloadRemoves_RefusesItWhole()
    {
        var moved = new WorkloadIsolationHttpOptions();
        moved.Rules.Add(new WorkloadClassRule { PathPrefix = "/exports", Class = "batch" });
        WorkloadIsolationHttpOptions next = moved;
        RequestClassifier classifier = Create(http: null, reread: against => Checked(next, against));
        Assert.Equal("reporting", classifier.Classify(Request("/reports/1"), null)!.Name);

        // The reload's own rules come with it.
        Assert.True(Reload(_options));
        Assert.Equal("interactive", classifier.Classify(Request("/reports/1"), null)!.Name);
        Assert.Equal("batch", classifier.Classify(Request("/exports/1"), null)!.Name);

        // A reload that removes the class a rule names is refused: its classes and its rules stay as they were.
        Assert.False(Reload(new WorkloadIsolationOptions { DefaultClass = "interactive" }.AddClass("interactive")));
        Assert.Equal("batch", classifier.Classify(Request("/exports/1"), null)!.Name);
        Assert.True(_scheduler!.TryGetClass("batch", out _));
    }

    /// <summary>The HTTP settings as a reload reads them: checked against the classes of the configuration it brings.</summary>
    private static WorkloadIsolationHttpOptions Checked(WorkloadIsolationHttpOptions http, WorkloadIsolationOptions against)
    {
        ValidateOptionsResult result = new WorkloadIsolationHttpOptionsValidator(() => against).Validate(null, http);
        return result.Failed ? throw new OptionsValidationException(Microsoft.Extensions.Options.Options.DefaultName, typeof(WorkloadIsolationHttpOptions), result.Failures) : http;
    }

    /// <summary>A reload as the configuration's change token drives it: validated, checked, then put in force.</summary>
    private bool Reload(WorkloadIsolationOptions options)
    {
        return _scheduler!.Reload(new Given(options));
    }

    /// <summary>Options made elsewhere, validated as the options' factory validates them.</summary>
    private sealed class Given(WorkloadIsolationOptions options) : IOptionsFactory<WorkloadIsolationOptions>
    {
        public WorkloadIsolationOptions Create(string name)
        {
            ValidateOptionsResult result = new Bulkhead.Options.Internal.WorkloadIsolationOptionsValidator().Validate(name, options);
            return result.Failed ? throw new OptionsValidationException(name, typeof(WorkloadIsolationOptions), result.Failures) : options;
        }
    }

    [Fact]
    public void Classify_ExemptEndpoint_IsNullEvenWithAClass()
    {
        RequestClassifier classifier = Create();
        Endpoint endpoint = PipelineFactory.Endpoint(new WorkloadClassAttribute("reporting"), new DisableWorkloadIsolationAttribute());

        Assert.Null(classifier.Classify(Request("/reports/1"), endpoint));
        Assert.Null(classifier.Classify(Request("/reports/1"), endpoint));
    }

    [Fact]
    public void Classify_EndpointWithoutMetadata_FollowsTheRequestEveryTime()
    {
        RequestClassifier classifier = Create();
        Endpoint endpoint = PipelineFactory.Endpoint();

        Assert.Equal("reporting", classifier.Classify(Request("/reports/1"), endpoint)!.Name);
        Assert.Equal("admin", classifier.Classify(Request("/users/1", "DELETE"), endpoint)!.Name);
        Assert.Equal("interactive", classifier.Classify(Request("/other"), endpoint)!.Name);
    }

    [Fact]
    public void Classify_SameEndpointNamingAnUnknownClass_CountsEveryRequestAndFindsTheClassOnceAdded()
    {
        RequestClassifier classifier = Create();
        Endpoint endpoint = PipelineFactory.Endpoint(new WorkloadClassAttribute("exports"));

        Assert.Equal("interactive", classifier.Classify(Request("/"), endpoint)!.Name);
        Assert.Equal("interactive", classifier.Classify(Request("/"), endpoint)!.Name);
        Assert.Equal(2, _counters.UnknownClassFallbacks);

        _scheduler!.Apply(new WorkloadIsolationOptions { DefaultClass = "interactive" }.AddClass("interactive").AddClass("exports"));

        Assert.Equal("exports", classifier.Classify(Request("/"), endpoint)!.Name);
        Assert.Equal(2, _counters.UnknownClassFallbacks);
    }

    [Fact]
    public void Classify_SameEndpointAfterItsClassIsRemoved_FallsBackAndComesBackWithTheClass()
    {
        RequestClassifier classifier = Create();
        Endpoint endpoint = PipelineFactory.Endpoint(new WorkloadClassAttribute("batch"));
        Assert.Equal("batch", classifier.Classify(Request("/"), endpoint)!.Name);

        _scheduler!.Apply(new WorkloadIsolationOptions { DefaultClass = "interactive" }.AddClass("interactive"));
        Assert.Equal("interactive", classifier.Classify(Request("/"), endpoint)!.Name);
        Assert.Equal(1, _counters.UnknownClassFallbacks);

        _scheduler.Apply(new WorkloadIsolationOptions { DefaultClass = "interactive" }.AddClass("interactive").AddClass("batch", c => c.Priority = 3));
        Assert.Equal("batch", classifier.Classify(Request("/"), endpoint)!.Name);
    }

    public void Dispose() => _scheduler?.Dispose();

    private static DefaultHttpContext Request(string path, string method = "GET")
    {
        var context = new DefaultHttpContext();
        context.Request.Path = path;
        context.Request.Method = method;
        return context;
    }

    private RequestClassifier Create(params IWorkloadClassifier[] classifiers) => Create(null, classifiers);

    private RequestClassifier Create(WorkloadIsolationHttpOptions? http, params IWorkloadClassifier[] classifiers) => Create(http, reread: null, classifiers);

    private RequestClassifier Create(WorkloadIsolationHttpOptions? http, Func<WorkloadIsolationOptions, WorkloadIsolationHttpOptions>? reread, params IWorkloadClassifier[] classifiers)
    {
        _scheduler?.Dispose();
        _scheduler = TestScheduler.Create(_options, new FakeTimeProvider());
        WorkloadIsolationHttpOptions settings = WithRules(http ?? new());
        return new RequestClassifier(_scheduler, _scheduler, settings, reread ?? (_ => settings), classifiers, _counters, NullLogger.Instance);
    }

    private sealed class FixedClassifier(string? name) : IWorkloadClassifier
    {
        public string? Classify(HttpContext context) => name;
    }
}
