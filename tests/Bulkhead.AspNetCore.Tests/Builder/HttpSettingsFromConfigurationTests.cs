using System.Net;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Bulkhead.AspNetCore.Tests.Builder;

/// <summary>The HTTP settings come from the same <c>WorkloadIsolation</c> section as the classes; code still wins.</summary>
public sealed class HttpSettingsFromConfigurationTests
{
    private const string Section = """
        { "WorkloadIsolation": {
            "TotalConcurrency": 2, "DefaultClass": "reporting",
            "Classes": { "reporting": { "MaxConcurrencyPerPartition": 1, "QueueLimit": 0 } },
            "Http": { "TrustedHeaders": [ "X-Tenant" ], "PartitionHeader": "X-Tenant", "DefaultRetryAfter": "00:00:03", "IncludeRejectionDetails": true } } }
        """;

    [Fact]
    public async Task HttpSection_PartitionsByItsHeaderAndAnswersWithItsRetryAfterAndDetails()
    {
        await using WebApplication app = await StartAsync(Section, code: null);
        using HttpClient client = app.GetTestClient();
        Task<HttpResponseMessage> first = Send(client, "/slow", "tenant-a");

        // tenant-a holds its one seat; its next request is refused, tenant-b's is not.
        await Eventually.TrueAsync(() => app.Services.GetRequiredService<IWorkloadScheduler>().GetSnapshot()["reporting"].InFlight == 1, "tenant-a holds a seat");
        using HttpResponseMessage refused = await Send(client, "/fast", "tenant-a");
        using HttpResponseMessage other = await Send(client, "/fast", "tenant-b");

        Assert.Equal(HttpStatusCode.ServiceUnavailable, refused.StatusCode);
        Assert.Equal(TimeSpan.FromSeconds(3), refused.Headers.RetryAfter?.Delta);
        Assert.Contains("\"workloadClass\":\"reporting\"", await refused.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, other.StatusCode);
        _release.TrySetResult();
        (await first.WithTimeout()).Dispose();
    }

    [Fact]
    public async Task ConfigureHttpInCode_WinsOverTheSection()
    {
        await using WebApplication app = await StartAsync(Section, code: h => h.DefaultRetryAfter = TimeSpan.FromSeconds(7));
        using HttpClient client = app.GetTestClient();
        Task<HttpResponseMessage> first = Send(client, "/slow", "tenant-a");
        await Eventually.TrueAsync(() => app.Services.GetRequiredService<IWorkloadScheduler>().GetSnapshot()["reporting"].InFlight == 1, "tenant-a holds a seat");

        using HttpResponseMessage refused = await Send(client, "/fast", "tenant-a");

        Assert.Equal(TimeSpan.FromSeconds(7), refused.Headers.RetryAfter?.Delta);
        _release.TrySetResult();
        (await first.WithTimeout()).Dispose();
    }

    [Fact]
    public async Task UntrustedPartitionHeaderInTheSection_FailsWhenThePipelineIsBuilt()
    {
        string untrusted = Section.Replace("\"TrustedHeaders\": [ \"X-Tenant\" ], ", string.Empty, StringComparison.Ordinal);

        var failure = await Assert.ThrowsAsync<OptionsValidationException>(() => StartAsync(untrusted, code: null));

        Assert.Contains("PartitionHeader 'X-Tenant'", failure.Message, StringComparison.Ordinal);
    }

    /// <summary>A time span written as a bare number would bind as days: refused, as in the rest of the section.</summary>
    [Fact]
    public async Task HttpRetryAfterAsABareNumber_FailsWhenThePipelineIsBuilt()
    {
        var bareNumber = await Assert.ThrowsAsync<OptionsValidationException>(() => StartAsync(Section.Replace("00:00:03", "3", StringComparison.Ordinal), code: null));
        Assert.Contains("WorkloadIsolation: Http: DefaultRetryAfter ('3') is not a time span", bareNumber.Message, StringComparison.Ordinal);
    }

    /// <summary>
    /// The Http settings are checked off their own option type when the pipeline is built, as the section's are at
    /// start-up: a misspelt setting, a bare number for a time span (five days), a value that does not parse.
    /// </summary>
    [Theory]
    [InlineData("\"PartitionHeadr\": \"X-Tenant\"", "WorkloadIsolation: Http: 'PartitionHeadr' is not a setting; did you mean 'PartitionHeader'?")]
    [InlineData("\"WorkloadClassResponseHeader\": { \"Name\": \"X-Class\" }", "WorkloadIsolation: Http: WorkloadClassResponseHeader must be a value, not an object or a list.")]
    [InlineData("\"RateLimitHeaders\": \"yes\"", "WorkloadIsolation: Http: RateLimitHeaders ('yes') is not true or false.")]
    [InlineData("\"PartitionKey\": \"tenant\"", "WorkloadIsolation: Http: 'PartitionKey' is not a setting")]
    [InlineData("\"Propagation\": { \"Enabled\": true, \"TrustedNetwork\": [ \"10.0.0.0/8\" ] }", "WorkloadIsolation: Http: Propagation: 'TrustedNetwork' is not a setting; did you mean 'TrustedNetworks'?")]
    [InlineData("\"Propagation\": { \"Enabled\": true, \"TrustedNetworks\": [ \"10.0.0.0/33\" ] }", "Propagation:TrustedNetworks '10.0.0.0/33' is not a network in CIDR notation")]
    [InlineData("\"Propagation\": { \"Enabled\": true, \"TrustedNetworks\": [ \"10.0.0.1/8\" ] }", "Propagation:TrustedNetworks '10.0.0.1/8' has bits set past its prefix: write the network '10.0.0.0/8'")]
    [InlineData("\"Propagation\": { \"ClassHeader\": \"Workload Class\" }", "Propagation:ClassHeader 'Workload Class' is not a header name")]
    public async Task BadHttpSetting_FailsWhenThePipelineIsBuilt_NamingIt(string setting, string expected)
    {

        string section = Section.Replace("\"IncludeRejectionDetails\": true", $"\"IncludeRejectionDetails\": true, {setting}", StringComparison.Ordinal);

        var failure = await Assert.ThrowsAsync<OptionsValidationException>(() => StartAsync(section, code: null));

        Assert.Contains(expected, failure.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("Content-Length", "is a header that HTTP, the server or Bulkhead itself writes")]
    [InlineData("retry-after", "is a header that HTTP, the server or Bulkhead itself writes")]
    [InlineData("X Workload Class", "is not a header name")]
    [InlineData("X-Klasse-é", "is not a header name")]
    public async Task WorkloadClassResponseHeader_NotAHeaderOfItsOwn_FailsWhenThePipelineIsBuilt(string header, string expected)
    {
        // Accepted before, such a name made every response a 500 (Kestrel refuses it) or broke the framing.
        string section = Section.Replace("\"IncludeRejectionDetails\": true", $"\"IncludeRejectionDetails\": true, \"WorkloadClassResponseHeader\": \"{header}\"", StringComparison.Ordinal);

        var failure = await Assert.ThrowsAsync<OptionsValidationException>(() => StartAsync(section, code: null));

        Assert.Contains($"WorkloadClassResponseHeader '{header}' {expected}", failure.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task PropagationSection_IsBound_TrustedNetworksIncluded()
    {
        string section = Section.Replace("\"IncludeRejectionDetails\": true", "\"IncludeRejectionDetails\": true, \"Propagation\": { \"Enabled\": true, \"ClassHeader\": \"X-Caller-Class\", \"TrustedNetworks\": [ \"10.0.0.0/8\", \"fd00::/8\" ] }", StringComparison.Ordinal);
        List<WorkloadPropagationOptions> seen = [];

        // The code runs after the section is bound, on every instance made (the one checked at start-up and the pipeline's).
        await using WebApplication app = await StartAsync(section, code: h => seen.Add(h.Propagation));

        Assert.NotEmpty(seen);
        Assert.All(seen, bound =>
        {
            Assert.True(bound.Enabled);
            Assert.Equal(("X-Caller-Class", "Workload-Timeout-Ms"), (bound.ClassHeader, bound.TimeoutHeader));
            Assert.Equal(["10.0.0.0/8", "fd00::/8"], bound.TrustedNetworks);
        });
    }

    private readonly TaskCompletionSource _release = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private async Task<WebApplication> StartAsync(string json, Action<WorkloadIsolationHttpOptions>? code)
    {
        WebApplicationBuilder builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseTestServer();
        builder.Configuration.AddJsonStream(new MemoryStream(Encoding.UTF8.GetBytes(json)));
        IWorkloadIsolationBuilder isolation = builder.Services.AddWorkloadIsolation(builder.Configuration.GetSection("WorkloadIsolation"));
        if (code is not null)
        {
            isolation.ConfigureHttp(code);
        }

        WebApplication app = builder.Build();
        app.UseWorkloadIsolation();
        app.MapGet("/slow", async () => { await _release.Task.WaitAsync(TimeSpan.FromSeconds(30)); return "slow"; });
        app.MapGet("/fast", () => "fast");
        await app.StartAsync().WithTimeout();
        return app;
    }

    private static Task<HttpResponseMessage> Send(HttpClient client, string path, string tenant)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, path);
        request.Headers.Add("X-Tenant", tenant);
        return client.SendAsync(request);
    }
}
