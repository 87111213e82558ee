using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;

namespace Bulkhead.AspNetCore.Tests.Middleware;

/// <summary>What TestServer cannot show: real connections that clients abort while queued.</summary>
public sealed class WorkloadIsolationKestrelTests
{
    [Fact]
    public async Task ClientsAbortWhileQueued_PlacesAreFreedAndNothingLeaks()
    {
        var gate = new Gate();
        await using TestApp app = await TestApp.StartAsync(
            o => { o.TotalConcurrency = 2; o.AddClass("default", c => { c.QueueLimit = 50; c.QueueTimeout = Timeout.InfiniteTimeSpan; }); },
            a => a.MapGet("/slow", async () => { await gate.WaitAsync(); return "done"; }),
            kestrel: true);
        string address = app.App.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();
        using var client = new HttpClient { BaseAddress = new Uri(address) };
        Task<HttpResponseMessage>[] running = [.. Enumerable.Range(0, 2).Select(_ => client.GetAsync("/slow"))];
        await Eventually.TrueAsync(() => app.Snapshot["default"].InFlight == 2, "two requests hold both seats");

        using var abort = new CancellationTokenSource();
        Task<HttpResponseMessage>[] queued = [.. Enumerable.Range(0, 5).Select(_ => client.GetAsync("/slow", abort.Token))];
        await Eventually.TrueAsync(() => app.Snapshot["default"].Queued == 5, "five requests wait");
        await abort.CancelAsync();
        foreach (Task<HttpResponseMessage> request in queued)
        {
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => request.WithTimeout());
        }

        await Eventually.TrueAsync(() => app.Snapshot["default"].Queued == 0, "the server noticed every disconnect");
        gate.Open();
        foreach (Task<HttpResponseMessage> request in running)
        {
            using HttpResponseMessage response = await request.WithTimeout();
            Assert.True(response.IsSuccessStatusCode);
        }

        await Eventually.TrueAsync(() => app.Snapshot["default"].InFlight == 0, "every seat is free");
        WorkloadClassSnapshot snapshot = app.Snapshot["default"];
        Assert.Equal((0, 0, 5L, 0L, 2L), (snapshot.InFlight, snapshot.Queued, snapshot.Canceled, snapshot.Rejected, snapshot.Admitted));
    }
}
