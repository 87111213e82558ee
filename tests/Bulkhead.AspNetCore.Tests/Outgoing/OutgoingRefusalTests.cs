using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace Bulkhead.AspNetCore.Tests.Outgoing;

/// <summary>An outgoing call refused inside an isolated request answers that request as its own class's refusal would.</summary>
public sealed class OutgoingRefusalTests
{
    [Fact]
    public async Task ARequestWhoseOutgoingCallIsRefused_IsAnswered503WithRetryAfter_NotA500()
    {
        var orders = new HeldDependency();
        await using TestApp app = await TestApp.StartAsync(
            o =>
            {
                o.TotalConcurrency = 8;
                o.DefaultClass = "interactive";
                o.AddClass("interactive", c => c.Priority = 0);
                o.AddClass("orders-api", c => { c.Priority = 1; c.MaxConcurrency = 1; c.QueueLimit = 0; });
            },
            web => web.MapGet("/checkout", async (IHttpClientFactory clients, CancellationToken aborted) =>
            {
                using HttpResponseMessage answer = await clients.CreateClient("orders").GetAsync(new Uri("http://orders/reserve"), aborted);
                return Results.Text($"orders said {(int)answer.StatusCode}");
            }),
            services => services.AddHttpClient("orders").ConfigurePrimaryHttpMessageHandler(() => orders).AddWorkloadIsolation("orders-api"));
        HttpClient client = app.CreateClient();

        Task<HttpResponseMessage> first = client.GetAsync(new Uri("/checkout", UriKind.Relative));
        await orders.Reached.Task.WithTimeout();
        using HttpResponseMessage refused = await client.GetAsync(new Uri("/checkout", UriKind.Relative)).WithTimeout();

        Assert.Equal(HttpStatusCode.ServiceUnavailable, refused.StatusCode);
        Assert.Equal(TimeSpan.FromSeconds(1), refused.Headers.RetryAfter?.Delta);
        Assert.Equal("application/problem+json", refused.Content.Headers.ContentType?.MediaType);

        orders.Answer.TrySetResult();
        using HttpResponseMessage served = await first.WithTimeout();
        Assert.Equal("orders said 200", await served.Content.ReadAsStringAsync());
        Assert.Equal((1L, 1L, 0), (app.Snapshot["orders-api"].Admitted, app.Snapshot["orders-api"].Rejected, app.Snapshot["orders-api"].InFlight));
    }

    /// <summary>A dependency that holds the calls reaching it until the test lets it answer.</summary>
    private sealed class HeldDependency : HttpMessageHandler
    {
        public TaskCompletionSource Reached { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public TaskCompletionSource Answer { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            Reached.TrySetResult();
            await Answer.Task.WaitAsync(cancellationToken).WithTimeout();
            return new HttpResponseMessage(HttpStatusCode.OK);
        }
    }
}
