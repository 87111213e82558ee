using System.Net;
using Bulkhead.AspNetCore;
using Grpc.Core;
using Grpc.Net.Client;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Bulkhead.Grpc.Tests;

/// <summary>
/// A real gRPC service on Kestrel (HTTP/2 on loopback) and a real channel: a unary call holds a seat of its method's
/// class, a refused one ends as gRPC says so with a retry pushback, and a long-lived stream holds no seat unless asked.
/// </summary>
public sealed class GrpcCallTests : IAsyncDisposable
{
    private WebApplication? _app;
    private GrpcChannel? _channel;

    public async ValueTask DisposeAsync()
    {
        ReportsService.Release.TrySetResult();
        _channel?.Dispose();
        if (_app is not null)
        {
            await _app.StopAsync().WithTimeout();
            await _app.DisposeAsync();
        }
    }

    [Fact]
    public async Task AUnaryCall_HoldsASeatOfItsMethodsClass_AndOneTooMany_EndsUnavailableWithAPushback()
    {
        Reports.ReportsClient client = await StartAsync();

        AsyncUnaryCall<ExportReply> running = client.ExportAsync(new ExportRequest { Tenant = "a" });
        await Eventually.TrueAsync(() => Snapshot("reporting").InFlight == 1, "the export holds the reporting class's one seat");
        var refused = await Assert.ThrowsAsync<RpcException>(() => client.ExportAsync(new ExportRequest { Tenant = "b" }).ResponseAsync.WithTimeout());

        Assert.Equal(StatusCode.Unavailable, refused.StatusCode);
        Assert.Equal("1000", refused.Trailers.GetValue("grpc-retry-pushback-ms"));
        Assert.Equal("pong", (await client.PingAsync(new ExportRequest()).ResponseAsync.WithTimeout()).Text);
        ReportsService.Release.TrySetResult();
        Assert.Equal("exported a", (await running.ResponseAsync.WithTimeout()).Text);
        Assert.Equal((1L, 1L, 0), (Snapshot("reporting").Admitted, Snapshot("reporting").Rejected, Snapshot("reporting").InFlight));
        Assert.Equal(1L, Snapshot("interactive").Admitted);
    }

    [Fact]
    public async Task ARateLimitedCall_EndsResourceExhausted_WithTheLimitersRetryTime()
    {
        Reports.ReportsClient client = await StartAsync(rateLimited: true);

        Assert.Equal("pong", (await client.PingAsync(new ExportRequest()).ResponseAsync.WithTimeout()).Text);
        var refused = await Assert.ThrowsAsync<RpcException>(() => client.PingAsync(new ExportRequest()).ResponseAsync.WithTimeout());

        Assert.Equal(StatusCode.ResourceExhausted, refused.StatusCode);
        Assert.InRange(long.Parse(refused.Trailers.GetValue("grpc-retry-pushback-ms")!, System.Globalization.CultureInfo.InvariantCulture), 1, 100_000);
    }

    [Theory]
    [InlineData(WorkloadGrpcStreamingMode.Exempt)]
    [InlineData(WorkloadGrpcStreamingMode.PerCall)]
    public async Task LongLivedStreams_HoldNoSeat_UnlessEachCallIsToHoldOne(WorkloadGrpcStreamingMode mode)
    {
        Reports.ReportsClient client = await StartAsync(streaming: mode);
        using AsyncServerStreamingCall<ExportReply> first = client.Watch(new ExportRequest { Tenant = "a" });
        Assert.True(await first.ResponseStream.MoveNext(CancellationToken.None).WithTimeout());

        using AsyncServerStreamingCall<ExportReply> second = client.Watch(new ExportRequest { Tenant = "b" });
        if (mode == WorkloadGrpcStreamingMode.Exempt)
        {
            // Both streams are open and the reporting class's one seat is free for an export.
            Assert.True(await second.ResponseStream.MoveNext(CancellationToken.None).WithTimeout());
            Assert.Equal(0, Snapshot("reporting").InFlight);
        }
        else
        {
            var refused = await Assert.ThrowsAsync<RpcException>(() => second.ResponseStream.MoveNext(CancellationToken.None).WithTimeout());
            Assert.Equal(StatusCode.Unavailable, refused.StatusCode);
            Assert.Equal(1, Snapshot("reporting").InFlight);
        }
    }

    [Fact]
    public async Task PerMessage_EachMessageOfAStreamHoldsASeatWhileHandled_AndAStreamWaitingForItsClientHoldsNone()
    {
        // The reporting class has one seat; two uploads are open at once and send a message each.
        Reports.ReportsClient client = await StartAsync(streaming: WorkloadGrpcStreamingMode.PerMessage, reportingQueue: 10);
        using AsyncClientStreamingCall<ExportRequest, ExportReply> a = client.Upload();
        using AsyncClientStreamingCall<ExportRequest, ExportReply> b = client.Upload();

        await a.RequestStream.WriteAsync(new ExportRequest { Tenant = "a1" }).WithTimeout();
        await Eventually.TrueAsync(() => Snapshot("reporting").InFlight == 1, "a1 is handled on the class's seat");
        await b.RequestStream.WriteAsync(new ExportRequest { Tenant = "b1" }).WithTimeout();
        await Eventually.TrueAsync(() => Snapshot("reporting").Queued == 1, "b1 waits for the seat a1 holds");

        // a1 is handled: its call asks for its next message, gives the seat back, and b1 takes it.
        ReportsService.Proceed.Release();
        await Eventually.TrueAsync(() => ReportsService.Handled.Count == 1 && Snapshot("reporting") is { InFlight: 1, Queued: 0 }, "b1 is handled on the seat a1 gave back");

        // Both calls are open, waiting for their clients: neither holds a seat, and an export runs.
        ReportsService.Proceed.Release();
        await Eventually.TrueAsync(() => ReportsService.Handled.Count == 2 && Snapshot("reporting").InFlight == 0, "two open streams waiting for their clients hold no seat");
        ReportsService.Release.TrySetResult();
        Assert.Equal("exported c", (await client.ExportAsync(new ExportRequest { Tenant = "c" }).ResponseAsync.WithTimeout()).Text);

        await a.RequestStream.CompleteAsync().WithTimeout();
        await b.RequestStream.CompleteAsync().WithTimeout();
        Assert.Equal("uploaded a1", (await a.ResponseAsync.WithTimeout()).Text);
        Assert.Equal("uploaded b1", (await b.ResponseAsync.WithTimeout()).Text);
        Assert.Equal(["a1", "b1"], ReportsService.Handled);
        Assert.Equal((3L, 0), (Snapshot("reporting").Admitted, Snapshot("reporting").InFlight));
    }

    [Fact]
    public async Task PerMessage_AMessageRefusedASeat_EndsItsCallUnavailableWithAPushback()
    {
        Reports.ReportsClient client = await StartAsync(streaming: WorkloadGrpcStreamingMode.PerMessage);
        using AsyncClientStreamingCall<ExportRequest, ExportReply> a = client.Upload();
        using AsyncClientStreamingCall<ExportRequest, ExportReply> b = client.Upload();
        await a.RequestStream.WriteAsync(new ExportRequest { Tenant = "a1" }).WithTimeout();
        await Eventually.TrueAsync(() => Snapshot("reporting").InFlight == 1, "a1 holds the class's one seat");

        await b.RequestStream.WriteAsync(new ExportRequest { Tenant = "b1" }).WithTimeout();
        var refused = await Assert.ThrowsAsync<RpcException>(() => b.ResponseAsync.WithTimeout());

        Assert.Equal(StatusCode.Unavailable, refused.StatusCode);
        Assert.Equal("1000", refused.Trailers.GetValue("grpc-retry-pushback-ms"));
        ReportsService.Proceed.Release();
        await a.RequestStream.CompleteAsync().WithTimeout();
        Assert.Equal("uploaded a1", (await a.ResponseAsync.WithTimeout()).Text);
        Assert.Equal((1L, 1L, 0), (Snapshot("reporting").Admitted, Snapshot("reporting").Rejected, Snapshot("reporting").InFlight));
    }

    [Fact]
    public async Task ADefaultClassThatIsNotConfigured_RunsCallsInTheSchedulersDefault_AndSaysSoOnce()
    {
        var logs = new ListLoggerProvider();
        Reports.ReportsClient client = await StartAsync(defaultClass: "interactve", logs: logs);

        Assert.Equal("pong", (await client.PingAsync(new ExportRequest()).ResponseAsync.WithTimeout()).Text);
        Assert.Equal("pong", (await client.PingAsync(new ExportRequest()).ResponseAsync.WithTimeout()).Text);

        Assert.Equal(2L, Snapshot("interactive").Admitted);
        string warning = Assert.Single(logs.Messages, m => m.Level == LogLevel.Warning).Message;
        Assert.Contains("'interactve'", warning, StringComparison.Ordinal);
        Assert.Contains("default class 'interactive'", warning, StringComparison.Ordinal);
    }

    private WorkloadClassSnapshot Snapshot(string name) => _app!.Services.GetRequiredService<IWorkloadScheduler>().GetSnapshot()[name];

    private async Task<Reports.ReportsClient> StartAsync(
        bool rateLimited = false, WorkloadGrpcStreamingMode streaming = WorkloadGrpcStreamingMode.Exempt, int reportingQueue = 0, string? defaultClass = null, ListLoggerProvider? logs = null)
    {
        ReportsService.Release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        ReportsService.Proceed = new SemaphoreSlim(0);
        ReportsService.Handled = [];
        WebApplicationBuilder builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseKestrel(k => k.Listen(IPAddress.Loopback, 0, listen => listen.Protocols = HttpProtocols.Http2));
        builder.Logging.ClearProviders();
        if (logs is not null)
        {
            builder.Logging.AddProvider(logs);
        }

        builder.Services.AddWorkloadIsolation(o =>
        {
            o.TotalConcurrency = 8;
            o.DefaultClass = "interactive";
            o.AddClass("interactive", c => c.RateLimit = rateLimited ? new WorkloadRateLimitOptions { PermitsPerSecond = 0.1, Burst = 1 } : null);
            o.AddClass("reporting", c => (c.Priority, c.MaxConcurrency, c.QueueLimit) = (2, 1, reportingQueue));
        });
        builder.Services.AddGrpc().AddWorkloadIsolation(o => (o.StreamingMode, o.DefaultClass) = (streaming, defaultClass));
        _app = builder.Build();
        _app.MapGrpcService<ReportsService>();
        await _app.StartAsync().WithTimeout();
        _channel = GrpcChannel.ForAddress(_app.Urls.Single());
        return new Reports.ReportsClient(_channel);
    }

    /// <summary>An expensive export (reporting), a ping (the default class) and a long-lived stream of reports.</summary>
    public sealed class ReportsService : Reports.ReportsBase
    {
        public static TaskCompletionSource Release { get; set; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        /// <summary>Gets or sets the gate each uploaded message passes once handled.</summary>
        public static SemaphoreSlim Proceed { get; set; } = new(0);

        /// <summary>Gets or sets the uploaded messages handled, in order.</summary>
        public static List<string> Handled { get; set; } = [];

        [WorkloadClass("reporting")]
        public override async Task<ExportReply> Export(ExportRequest request, ServerCallContext context)
        {
            await Release.Task.WaitAsync(TimeSpan.FromSeconds(30));
            return new ExportReply { Text = $"exported {request.Tenant}" };
        }

        public override Task<ExportReply> Ping(ExportRequest request, ServerCallContext context) => Task.FromResult(new ExportReply { Text = "pong" });

        [WorkloadClass("reporting")]
        public override async Task<ExportReply> Upload(IAsyncStreamReader<ExportRequest> requestStream, ServerCallContext context)
        {
            List<string> mine = [];
            await foreach (ExportRequest message in requestStream.ReadAllAsync(context.CancellationToken))
            {
                await Proceed.WaitAsync(TimeSpan.FromSeconds(30));
                lock (Handled)
                {
                    Handled.Add(message.Tenant);
                }

                mine.Add(message.Tenant);
            }

            return new ExportReply { Text = $"uploaded {string.Join(",", mine)}" };
        }

        [WorkloadClass("reporting")]
        public override async Task Watch(ExportRequest request, IServerStreamWriter<ExportReply> responseStream, ServerCallContext context)
        {
            await responseStream.WriteAsync(new ExportReply { Text = $"watching {request.Tenant}" });
            await Task.Delay(Timeout.Infinite, context.CancellationToken).ContinueWith(_ => { }, TaskScheduler.Default);
        }
    }
}
