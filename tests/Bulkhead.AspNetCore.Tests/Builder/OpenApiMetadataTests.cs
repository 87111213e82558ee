using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http.Metadata;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace Bulkhead.AspNetCore.Tests.Builder;

/// <summary>Isolated endpoints tell OpenAPI (and so generated clients) about the 503 and 429 they may answer.</summary>
public sealed class OpenApiMetadataTests
{
    [Fact]
    public async Task WithWorkloadClass_DescribesTheRejectionResponsesOnce()
    {
        await using TestApp app = await TestApp.StartAsync(
            o => o.AddClass("reporting").DefaultClass = "reporting",
            a =>
            {
                a.MapGet("/reports", () => "report").WithWorkloadClass("reporting").ProducesWorkloadRejections();
                a.MapGroup("/api").ProducesWorkloadRejections().MapGet("/hello", () => "hello");
                a.MapGet("/plain", () => "plain");
            });

        Assert.Equal([200, 429, 503], StatusCodesOf(app, "/reports"));
        Assert.Equal([200, 429, 503], StatusCodesOf(app, "/api/hello"));
        Assert.Equal([200], StatusCodesOf(app, "/plain"));
        IProducesResponseTypeMetadata busy = Produces(app, "/reports").Single(m => m.StatusCode == 503);
        Assert.Equal(typeof(ProblemDetails), busy.Type);
        Assert.Equal(["application/problem+json"], busy.ContentTypes);
    }

    private static int[] StatusCodesOf(TestApp app, string route) => [.. Produces(app, route).Select(m => m.StatusCode).Distinct().Order()];

    private static IEnumerable<IProducesResponseTypeMetadata> Produces(TestApp app, string route) =>
        app.App.Services.GetRequiredService<EndpointDataSource>().Endpoints
            .OfType<RouteEndpoint>()
            .Single(e => e.RoutePattern.RawText == route)
            .Metadata.OfType<IProducesResponseTypeMetadata>();
}
