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

    [Fact]
    public async Task FloodAtTenTimesTheQueueLimitAndAnAbortStorm_QueueStaysBoundedInteractiveAnswersAndAllReturnsToZero()
    {
        var gate = new Gate();
        await using TestApp app = await TestApp.StartAsync(
            o =>
            {
                o.TotalConcurrency = 8;
                o.DefaultClass = "interactive";
                o.AddClass("interactive", c => c.ReservedConcurrency = 4);
                o.AddClass("reporting", c => { c.Priority = 2; c.MaxConcurrency = 2; c.QueueLimit = 20; c.QueueTimeout = Timeout.InfiniteTimeSpan; });
                o.AddClass("exports", c => { c.Priority = 3; c.MaxConcurrency = 2; c.QueueLimit = 5_000; c.QueueTimeout = Timeout.InfiniteTimeSpan; });
            },
            a =>
            {
                a.MapGet("/hello", () => "hello");
                a.MapGet("/report", async () => { await gate.WaitAsync(); return "report"; }).WithWorkloadClass("reporting");
                a.MapGet("/export", async () => { await gate.WaitAsync(); return "export"; }).WithWorkloadClass("exports");
            },
            kestrel: true);
        string address = app.App.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();
        using var client = new HttpClient { BaseAddress = new Uri(address), Timeout = TimeSpan.FromMinutes(2) };
        GC.Collect();
        GC.WaitForPendingFinalizers();
        long memoryBefore = GC.GetTotalMemory(forceFullCollection: true);

        // A flood at ten times the reporting queue's limit: two run, twenty wait, the rest are refused at once.
        int mostQueued = 0;
        using var sampling = new CancellationTokenSource();
        Task sampler = Task.Run(async () =>
        {
            while (!sampling.IsCancellationRequested)
            {
                mostQueued = Math.Max(mostQueued, app.Snapshot["reporting"].Queued);
                await Task.Delay(1);
            }
        });
        Task<HttpResponseMessage>[] flood = [.. Enumerable.Range(0, 200).Select(_ => client.GetAsync("/report"))];
        await Eventually.TrueAsync(() => app.Snapshot["reporting"] is { InFlight: 2, Queued: 20, Rejected: 178 }, "two run, twenty wait, the rest are refused");

        // The interactive class keeps answering through it.
        for (int i = 0; i < 20; i++)
        {
            using HttpResponseMessage hello = await client.GetAsync("/hello").WithTimeout();
            Assert.Equal(System.Net.HttpStatusCode.OK, hello.StatusCode);
        }

        // A storm of two thousand clients that leave while queued.
        using var leaving = new CancellationTokenSource();
        Task<HttpResponseMessage>[] storm = [.. Enumerable.Range(0, 2_000).Select(_ => client.GetAsync("/export", leaving.Token))];
        await Eventually.TrueAsync(() => app.Snapshot["exports"] is { InFlight: 2, Queued: 1_998 }, "the storm waits", TimeSpan.FromSeconds(60));
        await leaving.CancelAsync();
        foreach (Task<HttpResponseMessage> request in storm)
        {
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => request.WaitAsync(TimeSpan.FromSeconds(60)));
        }

        await Eventually.TrueAsync(() => app.Snapshot["exports"].Queued == 0, "every departure freed its place", TimeSpan.FromSeconds(60));
        gate.Open();
        int ok = 0;
        int refused = 0;
        foreach (Task<HttpResponseMessage> request in flood)
        {
            using HttpResponseMessage response = await request.WaitAsync(TimeSpan.FromSeconds(60));
            _ = response.StatusCode == System.Net.HttpStatusCode.OK ? ok++ : refused++;
        }

        await Eventually.TrueAsync(() => app.Snapshot.Classes.All(c => c.InFlight == 0 && c.Queued == 0), "the snapshot returns to zero", TimeSpan.FromSeconds(60));
        await sampling.CancelAsync();
        await sampler;
        GC.Collect();
        GC.WaitForPendingFinalizers();
        long growth = GC.GetTotalMemory(forceFullCollection: true) - memoryBefore;

        Assert.Equal((22, 178), (ok, refused));
        Assert.InRange(mostQueued, 0, 20);
        WorkloadClassSnapshot exports = app.Snapshot["exports"];
        Assert.Equal((0, 0, 2L), (exports.InFlight, exports.Queued, exports.Admitted));
        Assert.Equal(1_998, exports.Canceled);
        Assert.True(growth < 64L * 1024 * 1024, $"Memory grew by {growth / 1024} KiB across the flood and the storm.");
    }
}
