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
            "TotalConcurrency": 2, "DefaultClass": "reporting", "TrustedHeaders": [ "X-Tenant" ],
            "Classes": { "reporting": { "MaxConcurrencyPerPartition": 1, "QueueLimit": 0 } },
            "Http": { "PartitionHeader": "X-Tenant", "DefaultRetryAfter": "00:00:03", "IncludeRejectionDetails": true } } }
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
        string untrusted = Section.Replace("\"TrustedHeaders\": [ \"X-Tenant\" ],", string.Empty, StringComparison.Ordinal);

        var failure = await Assert.ThrowsAsync<OptionsValidationException>(() => StartAsync(untrusted, code: null));

        Assert.Contains("PartitionHeader 'X-Tenant'", failure.Message, StringComparison.Ordinal);
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
