using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Bulkhead.Http.Tests;

/// <summary>Outgoing calls over real sockets to a Kestrel server on loopback: the seats hold at the server's door.</summary>
public sealed class LoopbackServerTests : IAsyncDisposable
{
    private readonly TaskCompletionSource _release = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private WebApplication? _server;
    private ServiceProvider? _client;
    private int _inFlight;
    private int _mostAtOnce;
    private int _reached;

    public async ValueTask DisposeAsync()
    {
        _release.TrySetResult();
        _client?.Dispose();
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }
    }

    [Fact]
    public async Task CallsToAServer_NeverReachItMoreAtOnceThanTheClassesSeats_AndEveryOneIsAnswered()
    {
        Uri server = await StartServerAsync();
        IHttpClientFactory clients = Clients(WorkloadHttpRejectionMode.Throw);

        Task<HttpResponseMessage>[] calls = [.. Enumerable.Range(0, 6).Select(i => clients.CreateClient("dependency").GetAsync(new Uri(server, $"/work/{i}")))];
        await Eventually.TrueAsync(() => Volatile.Read(ref _inFlight) == 2, "two calls reach the server");
        await Eventually.TrueAsync(() => Snapshot().Queued == 4, "the other four wait for a seat");
        Assert.Equal(2, Volatile.Read(ref _reached));

        _release.TrySetResult();
        HttpResponseMessage[] answers = await Task.WhenAll(calls).WithTimeout();

        Assert.All(answers, answer => Assert.Equal(HttpStatusCode.OK, answer.StatusCode));
        Assert.Equal((6, 2), (Volatile.Read(ref _reached), Volatile.Read(ref _mostAtOnce)));
        Assert.Equal((0, 0, 6L), (Snapshot().InFlight, Snapshot().Queued, Snapshot().Admitted));
    }

    [Fact]
    public async Task ARefusedCall_NeverReachesTheServer_AndIsAnsweredWithRetryAfter()
    {
        Uri server = await StartServerAsync();
        IHttpClientFactory clients = Clients(WorkloadHttpRejectionMode.Respond, queueLimit: 0);

        Task<HttpResponseMessage>[] held = [.. Enumerable.Range(0, 2).Select(i => clients.CreateClient("dependency").GetAsync(new Uri(server, $"/work/{i}")))];
        await Eventually.TrueAsync(() => Volatile.Read(ref _inFlight) == 2, "two calls reach the server");
        using HttpResponseMessage refused = await clients.CreateClient("dependency").GetAsync(new Uri(server, "/work/2")).WithTimeout();

        Assert.Equal(HttpStatusCode.ServiceUnavailable, refused.StatusCode);
        Assert.NotNull(refused.Headers.RetryAfter?.Delta);
        Assert.Equal(2, Volatile.Read(ref _reached));
        _release.TrySetResult();
        Assert.All(await Task.WhenAll(held).WithTimeout(), answer => Assert.Equal(HttpStatusCode.OK, answer.StatusCode));
    }

    private WorkloadClassSnapshot Snapshot() => _client!.GetRequiredService<IWorkloadScheduler>().GetSnapshot()["orders-api"];

    private IHttpClientFactory Clients(WorkloadHttpRejectionMode rejectionMode, int queueLimit = 10)
    {
        var services = new ServiceCollection();
        services.AddWorkloadIsolation(o =>
        {
            o.TotalConcurrency = 16;
            o.DefaultClass = "interactive";
            o.AddClass("interactive", c => c.Priority = 0);
            o.AddClass("orders-api", c => { c.Priority = 1; c.MaxConcurrency = 2; c.QueueLimit = queueLimit; c.QueueTimeout = Timeout.InfiniteTimeSpan; });
        });
        services.AddHttpClient("dependency").AddWorkloadIsolation(o => { o.WorkloadClass = "orders-api"; o.RejectionMode = rejectionMode; });
        _client = services.BuildServiceProvider();
        return _client.GetRequiredService<IHttpClientFactory>();
    }

    private async Task<Uri> StartServerAsync()
    {
        WebApplicationBuilder builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseKestrel(o => o.Listen(IPAddress.Loopback, 0));
        builder.Logging.ClearProviders();
        _server = builder.Build();
        _server.MapGet("/work/{id}", async (int id) =>
        {
            Interlocked.Increment(ref _reached);
            int now = Interlocked.Increment(ref _inFlight);
            InterlockedMax.Raise(ref _mostAtOnce, now);
            try
            {
                await _release.Task.WithTimeout();
                return Results.Ok(id);
            }
            finally
            {
                Interlocked.Decrement(ref _inFlight);
            }
        });
        await _server.StartAsync();
        return new Uri(_server.Urls.First());
    }
}
