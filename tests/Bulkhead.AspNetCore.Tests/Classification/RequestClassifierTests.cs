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

    public RequestClassifierTests()
    {
        _options.TrustedHeaders.Add("X-Gateway-Class");
        _options.Rules.Add(new WorkloadClassRule { PathPrefix = "/reports", Class = "reporting" });
        _options.Rules.Add(new WorkloadClassRule { Method = "DELETE", Class = "admin" });
        _options.Rules.Add(new WorkloadClassRule { Header = "X-Gateway-Class", HeaderValue = "batch", Class = "batch" });
        _options.Rules.Add(new WorkloadClassRule { Claim = "role", ClaimValue = "operator", Class = "admin" });
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
        var classifier = new RequestClassifier(_scheduler, _scheduler, new(), [], _counters, logs.CreateLogger("test"));

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
        var classifier = new RequestClassifier(_scheduler, _scheduler, new(), [new FixedClassifier("evil\u001b[2J\b\u007f\r\nforged line")], _counters, logs.CreateLogger("test"));

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
        _options.TrustedHeaders.Add("X-Tenant");
        HttpContext context = Request("/");
        context.Request.Headers["X-Tenant"] = "from-header";
        context.User = new ClaimsPrincipal(new ClaimsIdentity([new Claim("tenant", "from-claim")], "test"));

        Assert.Equal("from-delegate", Create(http: new() { PartitionKey = _ => "from-delegate", PartitionClaim = "tenant" }).GetPartition(context));
        Assert.Equal("from-claim", Create(http: new() { PartitionClaim = "tenant", PartitionHeader = "X-Tenant" }).GetPartition(context));
        Assert.Equal("from-header", Create(http: new() { PartitionHeader = "X-Tenant" }).GetPartition(context));
        Assert.Null(Create().GetPartition(context));
    }

    [Fact]
    public void Validate_PartitionHeaderNotTrusted_FailsNamingTheHeaderAndTrustedHeaders()
    {
        var validator = new WorkloadIsolationHttpOptionsValidator(Microsoft.Extensions.Options.Options.Create(_options));

        ValidateOptionsResult result = validator.Validate(null, new WorkloadIsolationHttpOptions { PartitionHeader = "X-Tenant" });

        Assert.True(result.Failed);
        Assert.Contains("'X-Tenant'", result.FailureMessage, StringComparison.Ordinal);
        Assert.Contains("TrustedHeaders", result.FailureMessage, StringComparison.Ordinal);
        Assert.True(validator.Validate(null, new WorkloadIsolationHttpOptions { PartitionHeader = "X-Gateway-Class" }).Succeeded);
    }

    [Fact]
    public void GetPartition_HeaderNoLongerTrustedAfterReload_IsNotRead()
    {
        _options.TrustedHeaders.Add("X-Tenant");
        RequestClassifier classifier = Create(http: new() { PartitionHeader = "X-Tenant" });
        HttpContext context = Request("/");
        context.Request.Headers["X-Tenant"] = "from-header";
        Assert.Equal("from-header", classifier.GetPartition(context));

        var reloaded = new WorkloadIsolationOptions { DefaultClass = "interactive" }.AddClass("interactive");
        _scheduler!.Apply(reloaded);

        Assert.Null(classifier.GetPartition(context));
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

    private RequestClassifier Create(WorkloadIsolationHttpOptions? http, params IWorkloadClassifier[] classifiers)
    {
        _scheduler?.Dispose();
        _scheduler = TestScheduler.Create(_options, new FakeTimeProvider());
        return new RequestClassifier(_scheduler, _scheduler, http ?? new(), classifiers, _counters, NullLogger.Instance);
    }

    private sealed class FixedClassifier(string? name) : IWorkloadClassifier
    {
        public string? Classify(HttpContext context) => name;
    }
}
