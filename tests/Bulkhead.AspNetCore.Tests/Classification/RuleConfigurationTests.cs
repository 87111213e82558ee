using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Bulkhead.AspNetCore.Tests.Classification;

/// <summary>
/// Request rules and trusted headers written in the section's <c>Http</c> part, as users write them: a bad one fails when
/// the pipeline is built, naming the rule and the field; a reload to a bad one, or one that removes a class a rule names,
/// is refused whole (classes and rules in force stay); a good reload changes classes and rules together.
/// </summary>
public sealed class RuleConfigurationTests
{
    public static TheoryData<string, string, string> Cases => new()
    {
        { "unknown rule setting", Rules("""{ "Path": "/reports", "Class": "reporting" }"""), "WorkloadIsolation: Http: Rules[0]: 'Path' is not a setting (settings here: Class, Weight, PathPrefix" },
        { "rules as an object", """ "Rules": { "PathPrefix": "/reports", "Class": "reporting" } """, "WorkloadIsolation: Http: Rules must be a list" },
        { "trusted headers as a value", """ "TrustedHeaders": "X-Gateway" """, "WorkloadIsolation: Http: TrustedHeaders ('X-Gateway') must be a list" },
        { "header value without a header", Rules("""{ "PathPrefix": "/reports", "HeaderValue": "batch", "Class": "reporting" }"""), "WorkloadIsolation: Http: Rules[0]: HeaderValue 'batch' is set without Header" },
        { "claim value without a claim", Rules("""{ "PathPrefix": "/reports", "ClaimValue": "operator", "Class": "reporting" }"""), "WorkloadIsolation: Http: Rules[0]: ClaimValue 'operator' is set without Claim" },
        { "rule for an unknown class", Rules("""{ "PathPrefix": "/reports", "Class": "reportng" }"""), "WorkloadIsolation: Http: Rules[0]: Class 'reportng' is not a configured class." },
        { "rule without a condition", Rules("""{ "Class": "reporting" }"""), "WorkloadIsolation: Http: Rules[0]: sets no condition" },
        { "rule on an untrusted header", Rules("""{ "Header": "X-Class", "HeaderValue": "reports", "Class": "reporting" }"""), "WorkloadIsolation: Http: Rules[0]: Header 'X-Class' is not in TrustedHeaders" },
        { "rule path without a slash", Rules("""{ "PathPrefix": "reports", "Class": "reporting" }"""), "WorkloadIsolation: Http: Rules[0]: PathPrefix 'reports' must start with '/'." },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task BadRule_FailsWhenThePipelineIsBuilt_NamingItAndTheField(string name, string http, string expected)
    {
        var source = new SwappableConfigurationSource();
        source.Provider.Swap(Json(Section(http)));

        var failure = await Assert.ThrowsAsync<OptionsValidationException>(() => StartAsync(source, new ListLoggerProvider()));

        Assert.True(failure.Message.Contains(expected, StringComparison.Ordinal), $"{name}: '{expected}' not in: {failure.Message}");
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task Reload_ToABadRule_IsRefusedWhole_AndTheRulesInForceStay(string name, string http, string expected)
    {
        var source = new SwappableConfigurationSource();
        source.Provider.Swap(Json(Section(Rules("""{ "PathPrefix": "/reports", "Class": "reporting" }"""))));
        var logs = new ListLoggerProvider();
        await using WebApplication app = await StartAsync(source, logs);
        WorkloadIsolationOptions before = app.Services.GetRequiredService<IWorkloadIsolationMonitor>().CurrentValue;

        source.Provider.Swap(Json(Section(http)));

        Assert.Same(before, app.Services.GetRequiredService<IWorkloadIsolationMonitor>().CurrentValue);
        (LogLevel _, string message) = Assert.Single(logs.Messages, m => m.Level == LogLevel.Error);
        Assert.True(message.Contains(expected, StringComparison.Ordinal), $"{name}: '{expected}' not in: {message}");
        Assert.Equal("reporting", await ClassOfAsync(app, "/reports/1"));
    }

    [Fact]
    public async Task Reload_ClassesAndRulesChangeTogether_AndOneRemovingAClassARuleNames_IsRefusedWhole()
    {
        var source = new SwappableConfigurationSource();
        source.Provider.Swap(Json(Section(Rules("""{ "PathPrefix": "/reports", "Class": "reporting" }"""))));
        var logs = new ListLoggerProvider();
        await using WebApplication app = await StartAsync(source, logs);
        Assert.Equal("reporting", await ClassOfAsync(app, "/reports/1"));

        // A class and the rule that sends reports to it come in one reload.
        source.Provider.Swap(Json(Section(Rules("""{ "PathPrefix": "/reports", "Class": "exports" }"""), extraClass: """, "exports": { "Priority": 3 }""")));
        Assert.Equal("exports", await ClassOfAsync(app, "/reports/1"));

        // The class removed, the rule kept: refused, and reports still run in the class the rule names.
        source.Provider.Swap(Json(Section(Rules("""{ "PathPrefix": "/reports", "Class": "exports" }"""))));
        Assert.Equal("exports", await ClassOfAsync(app, "/reports/1"));
        Assert.True(app.Services.GetRequiredService<IWorkloadScheduler>().TryGetClass("exports", out _));
        (LogLevel _, string message) = Assert.Single(logs.Messages, m => m.Level == LogLevel.Error);
        Assert.Contains("WorkloadIsolation: Http: Rules[0]: Class 'exports' is not a configured class.", message, StringComparison.Ordinal);
    }

    private static string Rules(string rule) => $$""" "Rules": [ {{rule}} ] """;

    private static string Section(string http, string extraClass = "") => $$"""
        { "TotalConcurrency": 16, "DefaultClass": "interactive",
          "Classes": { "interactive": { }, "reporting": { "Priority": 2 }{{extraClass}} },
          "Http": { {{(http.Contains("TrustedHeaders", StringComparison.Ordinal) ? "" : "\"TrustedHeaders\": [ \"X-Gateway\" ],")}} "WorkloadClassResponseHeader": "X-Workload-Class", {{http}} } }
        """;

    private static IConfigurationRoot Json(string section) =>
        new ConfigurationBuilder().AddJsonStream(new MemoryStream(Encoding.UTF8.GetBytes($$"""{ "WorkloadIsolation": {{section}} }"""))).Build();

    private static async Task<WebApplication> StartAsync(SwappableConfigurationSource source, ListLoggerProvider logs)
    {
        WebApplicationBuilder builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseTestServer();
        builder.Logging.ClearProviders().AddProvider(logs);
        builder.Configuration.Sources.Clear();
        ((IConfigurationBuilder)builder.Configuration).Add(source);
        builder.Services.AddWorkloadIsolation(builder.Configuration.GetSection("WorkloadIsolation"));
        WebApplication app = builder.Build();
        try
        {
            app.UseWorkloadIsolation();
        }
        catch
        {
            await app.DisposeAsync();
            throw;
        }

        app.MapGet("/reports/{id}", (string id) => id);
        await app.StartAsync().WithTimeout();
        return app;
    }

    private static async Task<string?> ClassOfAsync(WebApplication app, string path)
    {
        using HttpClient client = app.GetTestClient();
        using HttpResponseMessage response = await client.GetAsync(new Uri(path, UriKind.Relative)).WithTimeout();
        return response.Headers.TryGetValues("X-Workload-Class", out IEnumerable<string>? values) ? values.Single() : null;
    }
}
