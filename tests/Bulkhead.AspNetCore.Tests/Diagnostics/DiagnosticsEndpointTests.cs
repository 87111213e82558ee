using System.Net;
using System.Security.Claims;
using System.Text.Encodings.Web;
using System.Text.Json;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace Bulkhead.AspNetCore.Tests.Diagnostics;

/// <summary><c>MapWorkloadIsolationDiagnostics</c>: the snapshot as JSON, the dashboard page, exempt from isolation, and authorization.</summary>
public sealed class DiagnosticsEndpointTests
{
    private static void Configure(WorkloadIsolationOptions o)
    {
        o.TotalConcurrency = 2;
        o.DefaultClass = "interactive";
        o.AddClass("interactive", c => c.MaxConcurrency = 2);
        o.AddClass("reporting", c => { c.Priority = 2; c.MaxConcurrency = 1; c.QueueLimit = 0; });
    }

    [Fact]
    public async Task Snapshot_IsTheSchedulersSnapshotAsJson()
    {
        await using TestApp app = await TestApp.StartAsync(Configure, a => a.MapWorkloadIsolationDiagnostics());
        using HttpClient client = app.CreateClient();
        WorkloadLease held = app.Scheduler.TryAcquire("reporting");
        Assert.False(app.Scheduler.TryAcquire("reporting").IsAcquired);            // rejected: queue full

        using HttpResponseMessage response = await client.GetAsync(new Uri("/_bulkhead/snapshot", UriKind.Relative));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        Assert.Contains("no-store", response.Headers.CacheControl?.ToString(), StringComparison.Ordinal);
        using JsonDocument json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        JsonElement root = json.RootElement;
        Assert.Equal(2, root.GetProperty("sharedPool").GetInt32());
        JsonElement[] classes = [.. root.GetProperty("classes").EnumerateArray()];
        Assert.Equal(["interactive", "reporting"], classes.Select(c => c.GetProperty("name").GetString()));
        Assert.True(classes[0].GetProperty("isDefault").GetBoolean());
        JsonElement reporting = classes[1];
        Assert.Equal(1, reporting.GetProperty("inFlight").GetInt32());
        Assert.Equal(1, reporting.GetProperty("rejected").GetInt64());
        Assert.Equal(1, reporting.GetProperty("rejectedByReason").GetProperty("QueueFull").GetInt64());
        Assert.Equal(0, reporting.GetProperty("jobs").GetProperty("completed").GetInt64());
        held.Dispose();
    }

    [Fact]
    public async Task History_IsKeptFromTheMomentTheDiagnosticsAreMapped_OnTheAppsClock()
    {
        var time = new FakeTimeProvider();
        await using TestApp app = await TestApp.StartAsync(Configure, a => a.MapWorkloadIsolationDiagnostics(), services => services.AddSingleton<TimeProvider>(time));
        using HttpClient client = app.CreateClient();
        WorkloadLease held = app.Scheduler.TryAcquire("reporting");
        for (int i = 0; i < 10; i++)
        {
            Assert.False(app.Scheduler.TryAcquire("reporting").IsAcquired);          // rejected: queue full
        }

        time.Advance(TimeSpan.FromSeconds(5));

        using HttpResponseMessage response = await client.GetAsync(new Uri("/_bulkhead/history", UriKind.Relative));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        Assert.Contains("no-store", response.Headers.CacheControl?.ToString(), StringComparison.Ordinal);
        using JsonDocument json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        JsonElement[] classes = [.. json.RootElement.GetProperty("classes").EnumerateArray()];
        Assert.Equal(["interactive", "reporting"], classes.Select(c => c.GetProperty("name").GetString()));
        JsonElement sample = Assert.Single(classes[1].GetProperty("samples").EnumerateArray());
        Assert.Equal((1.0 / 5, 10.0 / 5, 1), (sample.GetProperty("admittedPerSecond").GetDouble(), sample.GetProperty("rejectedPerSecond").GetDouble(), sample.GetProperty("inFlight").GetInt32()));
        held.Dispose();
    }

    [Fact]
    public async Task Dashboard_IsOneSelfContainedPage()
    {
        await using TestApp app = await TestApp.StartAsync(Configure, a => a.MapWorkloadIsolationDiagnostics("/ops/bulkhead"));
        using HttpClient client = app.CreateClient();

        using HttpResponseMessage response = await client.GetAsync(new Uri("/ops/bulkhead", UriKind.Relative));
        string page = await response.Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/html", response.Content.Headers.ContentType?.MediaType);
        Assert.Contains("<script>", page, StringComparison.Ordinal);
        Assert.Contains("/snapshot", page, StringComparison.Ordinal);

        // Nothing from elsewhere: no external script, style sheet, font or image, and the browser is told so.
        foreach (string outside in new[] { "<script src", "rel=\"stylesheet\"", "@import", "url(", "https://", "//cdn" })
        {
            Assert.DoesNotContain(outside, page, StringComparison.OrdinalIgnoreCase);
        }

        Assert.Contains("default-src 'none'", response.Headers.GetValues("Content-Security-Policy").Single(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Diagnostics_AnswerWhileEveryClassIsFull_AndAreCountedAsExempt()
    {
        await using TestApp app = await TestApp.StartAsync(Configure, a => a.MapWorkloadIsolationDiagnostics());
        using HttpClient client = app.CreateClient();
        WorkloadLease[] held = [app.Scheduler.TryAcquire("interactive"), app.Scheduler.TryAcquire("interactive")];
        Assert.All(held, lease => Assert.True(lease.IsAcquired));

        using HttpResponseMessage page = await client.GetAsync(new Uri("/_bulkhead", UriKind.Relative));
        using HttpResponseMessage snapshot = await client.GetAsync(new Uri("/_bulkhead/snapshot", UriKind.Relative));

        Assert.Equal((HttpStatusCode.OK, HttpStatusCode.OK), (page.StatusCode, snapshot.StatusCode));
        Assert.Equal(2, app.Counters.Exempt);
        foreach (WorkloadLease lease in held)
        {
            lease.Dispose();
        }
    }

    [Fact]
    public async Task RequireAuthorization_ComposesLikeAnyEndpoint()
    {
        await using TestApp app = await TestApp.StartAsync(
            Configure,
            a => a.MapWorkloadIsolationDiagnostics().RequireAuthorization("ops"),
            services =>
            {
                services.AddAuthentication(HeaderAuthentication.SchemeName).AddScheme<AuthenticationSchemeOptions, HeaderAuthentication>(HeaderAuthentication.SchemeName, null);
                services.AddAuthorization(o => o.AddPolicy("ops", p => p.RequireRole("ops")));
            });
        using HttpClient client = app.CreateClient();

        Assert.Equal(HttpStatusCode.Unauthorized, await StatusAsync(client, "/_bulkhead/snapshot", user: null));
        Assert.Equal(HttpStatusCode.Unauthorized, await StatusAsync(client, "/_bulkhead", user: null));
        Assert.Equal(HttpStatusCode.Forbidden, await StatusAsync(client, "/_bulkhead/snapshot", user: "guest"));
        Assert.Equal(HttpStatusCode.OK, await StatusAsync(client, "/_bulkhead/snapshot", user: "ops"));
        Assert.Equal(HttpStatusCode.OK, await StatusAsync(client, "/_bulkhead", user: "ops"));
    }

    [Fact]
    public async Task NotMapped_NothingAnswers()
    {
        await using TestApp app = await TestApp.StartAsync(Configure, a => a.MapGet("/", () => "home"));
        using HttpClient client = app.CreateClient();

        Assert.Equal(HttpStatusCode.NotFound, await StatusAsync(client, "/_bulkhead/snapshot", user: null));
    }

    private static async Task<HttpStatusCode> StatusAsync(HttpClient client, string path, string? user)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(path, UriKind.Relative));
        if (user is not null)
        {
            request.Headers.Add("X-Test-Role", user);
        }

        using HttpResponseMessage response = await client.SendAsync(request);
        return response.StatusCode;
    }

    /// <summary>Signs in whoever sends <c>X-Test-Role</c>, in that role.</summary>
    private sealed class HeaderAuthentication(IOptionsMonitor<AuthenticationSchemeOptions> options, ILoggerFactory logger, UrlEncoder encoder)
        : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
    {
        public const string SchemeName = "Header";

        protected override Task<AuthenticateResult> HandleAuthenticateAsync()
        {
            if (!Request.Headers.TryGetValue("X-Test-Role", out var role))
            {
                return Task.FromResult(AuthenticateResult.NoResult());
            }

            var identity = new ClaimsIdentity([new Claim(ClaimTypes.Name, "tester"), new Claim(ClaimTypes.Role, role.ToString())], SchemeName);
            return Task.FromResult(AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(identity), SchemeName)));
        }
    }
}
