using Bulkhead.AspNetCore;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.SignalR;
using Microsoft.AspNetCore.SignalR.Client;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Bulkhead.SignalR.Tests;

/// <summary>
/// A real hub on Kestrel on loopback and real hub connections: each method invocation holds a seat of its class while it
/// runs, a refused one fails with a message that says when to retry, and connections hold no seat.
/// </summary>
public sealed class HubInvocationTests : IAsyncDisposable
{
    private readonly List<HubConnection> _connections = [];
    private WebApplication? _app;

    public async ValueTask DisposeAsync()
    {
        ReportsHub.Release.TrySetResult();
        foreach (HubConnection connection in _connections)
        {
            await connection.DisposeAsync();
        }

        if (_app is not null)
        {
            await _app.StopAsync().WithTimeout();
            await _app.DisposeAsync();
        }
    }

    [Fact]
    public async Task AnInvocation_HoldsASeatOfItsMethodsClassWhileItRuns_AndOneTooMany_IsRefusedSayingWhenToRetry()
    {
        await StartAsync();
        HubConnection first = await ConnectAsync();
        HubConnection second = await ConnectAsync();

        Task<string> running = first.InvokeAsync<string>(nameof(ReportsHub.Export));
        await Eventually.TrueAsync(() => Snapshot("reporting").InFlight == 1, "the export holds the reporting class's one seat");
        var refused = await Assert.ThrowsAsync<HubException>(() => second.InvokeAsync<string>(nameof(ReportsHub.Export)).WithTimeout());

        Assert.Contains("The server is busy (QueueFull); retry after 1 s.", refused.Message, StringComparison.Ordinal);
        Assert.Equal("pong", await second.InvokeAsync<string>(nameof(ReportsHub.Ping)).WithTimeout());
        ReportsHub.Release.TrySetResult();
        Assert.Equal("exported", await running.WithTimeout());
        Assert.Equal((1L, 1L, 0), (Snapshot("reporting").Admitted, Snapshot("reporting").Rejected, Snapshot("reporting").InFlight));
        Assert.Equal(1L, Snapshot("interactive").Admitted);
    }

    [Fact]
    public async Task Connections_HoldNoSeat_AndAnExemptMethodTakesNone()
    {
        await StartAsync();
        HubConnection[] connected = [await ConnectAsync(), await ConnectAsync(), await ConnectAsync()];

        Assert.Equal("free", await connected[0].InvokeAsync<string>(nameof(ReportsHub.Health)).WithTimeout());
        WorkloadSnapshot snapshot = _app!.Services.GetRequiredService<IWorkloadScheduler>().GetSnapshot();
        Assert.All(snapshot.Classes, c => Assert.Equal((c.Name, 0, 0L), (c.Name, c.InFlight, c.Admitted)));
    }

    [Fact]
    public async Task AnInvocationWhoseCallerLeavesWhileQueued_LeavesTheQueue()
    {
        await StartAsync(queueLimit: 5);
        HubConnection first = await ConnectAsync();
        HubConnection leaving = await ConnectAsync();
        Task<string> running = first.InvokeAsync<string>(nameof(ReportsHub.Export));
        await Eventually.TrueAsync(() => Snapshot("reporting").InFlight == 1, "the export holds the seat");

        _ = leaving.InvokeAsync<string>(nameof(ReportsHub.Export));
        await Eventually.TrueAsync(() => Snapshot("reporting").Queued == 1, "the second export waits");
        await leaving.StopAsync().WithTimeout();

        await Eventually.TrueAsync(() => Snapshot("reporting").Queued == 0, "the departed caller's invocation leaves the queue");
        ReportsHub.Release.TrySetResult();
        Assert.Equal("exported", await running.WithTimeout());
        Assert.Equal((1L, 0), (Snapshot("reporting").Admitted, Snapshot("reporting").InFlight));
    }

    private WorkloadClassSnapshot Snapshot(string name) => _app!.Services.GetRequiredService<IWorkloadScheduler>().GetSnapshot()[name];

    private async Task StartAsync(int queueLimit = 0)
    {
        ReportsHub.Release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        WebApplicationBuilder builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseKestrel().UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        builder.Services.AddWorkloadIsolation(o =>
        {
            o.TotalConcurrency = 8;
            o.DefaultClass = "interactive";
            o.AddClass("interactive", c => c.Priority = 0);
            o.AddClass("reporting", c => (c.Priority, c.MaxConcurrency, c.QueueLimit, c.QueueTimeout) = (2, 1, queueLimit, Timeout.InfiniteTimeSpan));
        });
        builder.Services.AddSignalR().AddWorkloadIsolation();
        _app = builder.Build();
        _app.MapHub<ReportsHub>("/reports");
        await _app.StartAsync().WithTimeout();
    }

    private async Task<HubConnection> ConnectAsync()
    {
        HubConnection connection = new HubConnectionBuilder().WithUrl(new Uri(new Uri(_app!.Urls.Single()), "/reports")).Build();
        _connections.Add(connection);
        await connection.StartAsync().WithTimeout();
        return connection;
    }

    /// <summary>A hub with an expensive export (reporting), a ping (the default class) and an exempt health method.</summary>
    [System.Diagnostics.CodeAnalysis.SuppressMessage("Performance", "CA1822:Mark members as static", Justification = "SignalR invokes a hub's instance methods.")]
    public sealed class ReportsHub : Hub
    {
        public static TaskCompletionSource Release { get; set; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        [WorkloadClass("reporting")]
        public async Task<string> Export()
        {
            await Release.Task.WaitAsync(TimeSpan.FromSeconds(30));
            return "exported";
        }

        public string Ping() => "pong";

        [DisableWorkloadIsolation]
        public string Health() => "free";
    }
}
