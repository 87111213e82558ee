using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace Bulkhead.AspNetCore.Tests.Middleware;

/// <summary>The IETF RateLimit fields, opt-in: their values follow the class's token bucket, on fake time.</summary>
public sealed class RateLimitHeadersTests
{
    private readonly FakeTimeProvider _time = new();

    [Fact]
    public async Task RateLimitedClass_FieldsFollowTheBucket_OnAdmissionsAndOnTheRejection()
    {
        await using TestApp app = await StartAsync(headers: true);
        using HttpClient client = app.CreateClient();

        // A bucket of 4 refilled at 2 per second: q=4, w=2; each admission takes one.
        Assert.Equal((HttpStatusCode.OK, "\"rated\";q=4;w=2", "\"rated\";r=3;t=1"), await GetAsync(client, "/rated"));
        Assert.Equal((HttpStatusCode.OK, "\"rated\";q=4;w=2", "\"rated\";r=2;t=1"), await GetAsync(client, "/rated"));
        Assert.Equal((HttpStatusCode.OK, "\"rated\";q=4;w=2", "\"rated\";r=1;t=2"), await GetAsync(client, "/rated"));
        Assert.Equal((HttpStatusCode.OK, "\"rated\";q=4;w=2", "\"rated\";r=0;t=2"), await GetAsync(client, "/rated"));
        Assert.Equal((HttpStatusCode.TooManyRequests, "\"rated\";q=4;w=2", "\"rated\";r=0;t=2"), await GetAsync(client, "/rated"));

        // A second later two permits are back; this request takes one.
        _time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal((HttpStatusCode.OK, "\"rated\";q=4;w=2", "\"rated\";r=1;t=2"), await GetAsync(client, "/rated"));
    }

    [Fact]
    public async Task NoRateLimit_OrNotAskedFor_NoFields()
    {
        await using TestApp on = await StartAsync(headers: true);
        using HttpClient client = on.CreateClient();
        Assert.Equal((HttpStatusCode.OK, null, null), await GetAsync(client, "/free"));

        await using TestApp off = await StartAsync(headers: false);
        using HttpClient offClient = off.CreateClient();
        Assert.Equal((HttpStatusCode.OK, null, null), await GetAsync(offClient, "/rated"));
    }

    private Task<TestApp> StartAsync(bool headers) => TestApp.StartAsync(
        o =>
        {
            o.DefaultClass = "free";
            o.AddClass("free");
            o.AddClass("rated", c => c.RateLimit = new WorkloadRateLimitOptions { PermitsPerSecond = 2, Burst = 4 });
        },
        a =>
        {
            a.MapGet("/free", () => "free");
            a.MapGet("/rated", () => "rated").WithWorkloadClass("rated");
        },
        services =>
        {
            services.AddSingleton<TimeProvider>(_time);
            services.AddWorkloadIsolation().ConfigureHttp(h => h.RateLimitHeaders = headers);
        });

    private static async Task<(HttpStatusCode Status, string? Policy, string? Current)> GetAsync(HttpClient client, string path)
    {
        using HttpResponseMessage response = await client.GetAsync(new Uri(path, UriKind.Relative));
        return (response.StatusCode,
            response.Headers.TryGetValues("RateLimit-Policy", out IEnumerable<string>? policy) ? policy.Single() : null,
            response.Headers.TryGetValues("RateLimit", out IEnumerable<string>? current) ? current.Single() : null);
    }
}
