using System.Collections.Concurrent;
using System.Text;
using Microsoft.Extensions.Time.Testing;
using RabbitMQ.Client;
using RabbitMQ.Client.Exceptions;

namespace Bulkhead.RabbitMQ.Tests;

/// <summary>
/// Consumers under a workload class against a real broker (Debian's rabbitmq-server on loopback): a full class pauses
/// the pull; a consumer that dies mid-message has it redelivered, not lost; a stop during a backlog acknowledges only
/// what ran; a poison message is set aside once; a consumer comes back after the broker restarts. The tests of this
/// class share one broker, each with queues of its own; the restart has a broker of its own.
/// </summary>
public sealed class RabbitMqConsumerTests(RabbitMqConsumerTests.Broker broker) : IClassFixture<RabbitMqConsumerTests.Broker>, IDisposable
{
    private readonly TestScheduler _scheduler = TestScheduler.Create(
        new WorkloadIsolationOptions { TotalConcurrency = 4, DefaultClass = "interactive" }
            .AddClass("interactive")
            .AddClass("reporting", c => (c.Priority, c.MaxConcurrency) = (2, 1)),
        new FakeTimeProvider());

    // A broker of one test's own, for the test that kills and restarts it; the others share the class's.
    private RabbitMqServer? _server;

    private WorkloadClass Reports => _scheduler.GetClass("reporting");

    public void Dispose() => _scheduler.Dispose();

    [RabbitMqFact]
    public async Task AfterTheBrokerRestarts_TheConsumerComesBack_AndHandlesWhatIsPublished()
    {
        await using RabbitMqServer own = await RabbitMqServer.StartAsync();
        _server = own;
        IConnection connection = await ConnectAsync();
        string queue = await DeclareAsync(connection, "restart");
        var handled = new ConcurrentQueue<string>();
        using var stop = new CancellationTokenSource();
        RabbitMqMessageSource source = await RabbitMqMessageSource.StartAsync(connection, queue, prefetch: 1);
        Task consuming = WorkloadConsumer.RunAsync(Reports, source, (m, _) => { handled.Enqueue(Text(m)); return ValueTask.CompletedTask; }, stoppingToken: stop.Token);
        await PublishAsync(connection, queue, "before");
        await Eventually.TrueAsync(() => handled.Count == 1, "a message before the restart is handled");

        await own.StopAsync();
        await own.StartAgainAsync();
        await using IConnection publisher = await ConnectAsync();
        await PublishOnceRoutedAsync(publisher, queue, "after");

        try
        {
            await Eventually.TrueAsync(() => handled.Contains("after"), "the consumer recovered with the connection", TimeSpan.FromSeconds(60));
        }
        catch (TimeoutException timeout)
        {
            // Say where the message is: still ready in the queue, or given to a consumer that never passed it on.
            await using IChannel probe = await publisher.CreateChannelAsync();
            QueueDeclareOk state = await probe.QueueDeclarePassiveAsync(queue);
            throw new TimeoutException($"{timeout.Message} Handled: [{string.Join(", ", handled)}]; connection open: {connection.IsOpen}; the queue's ready messages: {state.MessageCount}, consumers: {state.ConsumerCount}.", timeout);
        }

        await stop.CancelAsync();
        await consuming.WithTimeout();
        await source.DisposeAsync();
        await connection.DisposeAsync();

        // At least once: "before" comes again if the broker died before its acknowledgement reached it; nothing is lost.
        Assert.Equal("after", handled.Last());
        Assert.All(handled.SkipLast(1), text => Assert.Equal("before", text));
        Assert.InRange(handled.Count, 2, 3);
    }

    /// <summary>A broker of the test class's own, started once (when the broker is installed or required).</summary>
    public sealed class Broker : IAsyncLifetime
    {
        public RabbitMqServer? Server { get; private set; }

        public async Task InitializeAsync()
        {
            if (RabbitMqServer.SkipReason is null)
            {
                Server = await RabbitMqServer.StartAsync();
            }
        }

        public async Task DisposeAsync()
        {
            if (Server is not null)
            {
                await Server.DisposeAsync();
            }
        }
    }


    [RabbitMqFact]
    public async Task AFullClass_PausesThePull_TheRestStaysWithTheBroker()
    {
        await using IConnection connection = await ConnectAsync();
        string queue = await DeclareAsync(connection, "full-class");
        await PublishAsync(connection, queue, [.. Enumerable.Range(0, 10).Select(i => $"report-{i}")]);
        WorkloadLease held = Reports.TryAcquire();
        var handled = new ConcurrentQueue<string>();
        using var stop = new CancellationTokenSource();
        await using RabbitMqMessageSource source = await RabbitMqMessageSource.StartAsync(connection, queue, prefetch: 2);

        Task consuming = WorkloadConsumer.RunAsync(Reports, source, (m, _) => { handled.Enqueue(Text(m)); return ValueTask.CompletedTask; }, new WorkloadConsumerOptions { MaxInFlight = 2 }, stop.Token);

        // One message waits for the class's seat, unacknowledged; though MaxInFlight and the prefetch are 2, the source
        // asks the broker for no more, which keeps the other nine ready for anyone.
        await Eventually.TrueAsync(() => _scheduler.GetSnapshot()["reporting"].Queued == 1, "a message waits for the seat");
        await Task.Delay(200);
        Assert.Equal(9u, await ReadyAsync(connection, queue));
        Assert.Empty(handled);

        held.Dispose();
        await Eventually.TrueAsync(() => handled.Count == 10, "every message is handled once the seat frees", TimeSpan.FromSeconds(30));
        await stop.CancelAsync();
        await consuming.WithTimeout();
        Assert.Equal([.. Enumerable.Range(0, 10).Select(i => $"report-{i}")], handled);
        Assert.Equal(0u, await ReadyAsync(connection, queue));
    }

    [RabbitMqFact]
    public async Task ThePrefetch_FollowsTheClassesFreeSeats_AsTheyFreeAndFill()
    {
        await using IConnection connection = await ConnectAsync();
        string queue = await DeclareAsync(connection, "follows");
        await PublishAsync(connection, queue, [.. Enumerable.Range(0, 12).Select(i => $"export-{i}")]);
        WorkloadClass interactive = _scheduler.GetClass("interactive");
        WorkloadLease[] held = [interactive.TryAcquire(), interactive.TryAcquire(), interactive.TryAcquire()];
        var gate = new Gate();
        using var stop = new CancellationTokenSource();
        await using RabbitMqMessageSource source = await RabbitMqMessageSource.StartAsync(connection, queue, prefetch: 4);

        Task consuming = WorkloadConsumer.RunAsync(interactive, source, async (_, _) => await gate.WaitAsync(), new WorkloadConsumerOptions { MaxInFlight = 4 }, stop.Token);

        // One seat of four free: one export runs and one waits; the broker keeps the other ten.
        await ReadyEventuallyAsync(connection, queue, 10);
        await Task.Delay(200);
        Assert.Equal(10u, await ReadyAsync(connection, queue));

        // Two more seats free: the consumer takes two more, one ahead of its seats still.
        held[0].Dispose();
        held[1].Dispose();
        await ReadyEventuallyAsync(connection, queue, 8);
        await Task.Delay(200);
        Assert.Equal(8u, await ReadyAsync(connection, queue));

        // Up to the prefetch: four held, whatever else the class could seat.
        held[2].Dispose();
        await ReadyEventuallyAsync(connection, queue, 8);
        await Task.Delay(200);
        Assert.Equal(8u, await ReadyAsync(connection, queue));

        await stop.CancelAsync();
        gate.Open();
        await consuming.WithTimeout();
        await source.DisposeAsync();
        await ReadyEventuallyAsync(connection, queue, 8);
    }

    [RabbitMqFact]
    public async Task ASourceForAQueueThatDoesNotExist_FailsAtStart_WithTheBrokersNotFound()
    {
        await using IConnection connection = await ConnectAsync();

        var error = await Assert.ThrowsAsync<global::RabbitMQ.Client.Exceptions.OperationInterruptedException>(() => RabbitMqMessageSource.StartAsync(connection, "no-such-queue", prefetch: 1));

        Assert.Equal((ushort)404, error.ShutdownReason?.ReplyCode);
    }

    [RabbitMqFact]
    public async Task AConsumerThatDiesMidMessage_HasItRedelivered_NotLost()
    {
        await using IConnection publisher = await ConnectAsync();
        string queue = await DeclareAsync(publisher, "dies");
        await PublishAsync(publisher, queue, "invoice-7");
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

        // The first process takes the message and dies before its work ends: its connection is gone, unacknowledged.
        IConnection dying = await ConnectAsync();
        RabbitMqMessageSource first = await RabbitMqMessageSource.StartAsync(dying, queue, prefetch: 1);
        _ = WorkloadConsumer.RunAsync(Reports, first, async (_, token) => { started.TrySetResult(); await Task.Delay(Timeout.Infinite, token); }, stoppingToken: CancellationToken.None);
        await started.Task.WithTimeout();
        await dying.AbortAsync();
        dying.Dispose();

        // The next process gets it again, marked redelivered, and settles it.
        var handled = new ConcurrentQueue<(string Text, bool Redelivered)>();
        await using IConnection next = await ConnectAsync();
        await using RabbitMqMessageSource second = await RabbitMqMessageSource.StartAsync(next, queue, prefetch: 1);
        using var stop = new CancellationTokenSource();
        Task consuming = WorkloadConsumer.RunAsync(_scheduler.GetClass("interactive"), second, (m, _) => { handled.Enqueue((Text(m), m.Redelivered)); return ValueTask.CompletedTask; }, stoppingToken: stop.Token);
        await Eventually.TrueAsync(() => !handled.IsEmpty, "the message is redelivered", TimeSpan.FromSeconds(30));
        await stop.CancelAsync();
        await consuming.WithTimeout();

        Assert.Equal([("invoice-7", true)], handled);
        Assert.Equal(0u, await ReadyAsync(next, queue));
    }

    [RabbitMqFact]
    public async Task AStopDuringABacklog_AcknowledgesOnlyWhatRan_AndTheRestIsThereForTheNextConsumer()
    {
        await using IConnection connection = await ConnectAsync();
        string queue = await DeclareAsync(connection, "backlog");
        await PublishAsync(connection, queue, "m1", "m2", "m3", "m4", "m5");
        var gate = new Gate();
        var ran = new ConcurrentQueue<string>();
        using var stop = new CancellationTokenSource();
        RabbitMqMessageSource source = await RabbitMqMessageSource.StartAsync(connection, queue, prefetch: 3);

        Task consuming = WorkloadConsumer.RunAsync(Reports, source, async (m, _) => { ran.Enqueue(Text(m)); await gate.WaitAsync(); }, new WorkloadConsumerOptions { MaxInFlight = 3 }, stop.Token);
        await gate.Entered.WithTimeout();
        await Eventually.TrueAsync(() => _scheduler.GetSnapshot()["reporting"].Queued == 1, "m1 runs, m2 waits for its seat");
        await stop.CancelAsync();
        gate.Open();
        await consuming.WithTimeout();
        await source.DisposeAsync();

        // m1 ran and was acknowledged; the four others are ready again, none acknowledged.
        Assert.Equal(["m1"], ran);
        await ReadyEventuallyAsync(connection, queue, 4);
        var next = new ConcurrentQueue<string>();
        using var stopNext = new CancellationTokenSource();
        await using RabbitMqMessageSource again = await RabbitMqMessageSource.StartAsync(connection, queue, prefetch: 4);
        Task draining = WorkloadConsumer.RunAsync(_scheduler.GetClass("interactive"), again, (m, _) => { next.Enqueue(Text(m)); return ValueTask.CompletedTask; }, stoppingToken: stopNext.Token);
        await Eventually.TrueAsync(() => next.Count == 4, "the next consumer gets the four");
        await stopNext.CancelAsync();
        await draining.WithTimeout();
        Assert.Equal(["m2", "m3", "m4", "m5"], next.Order());
    }

    [RabbitMqFact]
    public async Task APoisonMessage_IsSetAsideOnce_NotRequeuedInALoop()
    {
        await using IConnection connection = await ConnectAsync();
        string queue = await DeclareAsync(connection, "poison");
        await PublishAsync(connection, queue, "ok-1", "poison", "ok-2");
        var attempts = new ConcurrentQueue<string>();
        using var stop = new CancellationTokenSource();
        await using RabbitMqMessageSource source = await RabbitMqMessageSource.StartAsync(connection, queue, prefetch: 1);

        Task consuming = WorkloadConsumer.RunAsync(
            Reports,
            source,
            (m, _) =>
            {
                attempts.Enqueue(Text(m));
                return Text(m) == "poison" ? throw new InvalidDataException("cannot parse") : ValueTask.CompletedTask;
            },
            stoppingToken: stop.Token);
        await Eventually.TrueAsync(() => attempts.Count == 3, "each message is tried");
        await Task.Delay(300);
        await stop.CancelAsync();
        await consuming.WithTimeout();

        Assert.Equal(["ok-1", "poison", "ok-2"], attempts);
        Assert.Equal(0u, await ReadyAsync(connection, queue));
    }

    private async Task<IConnection> ConnectAsync()
    {
        var factory = new ConnectionFactory
        {
            Uri = (_server ?? broker.Server!).Uri,
            AutomaticRecoveryEnabled = true,
            NetworkRecoveryInterval = TimeSpan.FromMilliseconds(250),
        };
        return await factory.CreateConnectionAsync().WaitAsync(TimeSpan.FromSeconds(30));
    }

    /// <summary>A durable queue of the test's own, which a restarted broker keeps.</summary>
    private static async Task<string> DeclareAsync(IConnection connection, string name)
    {
        await using IChannel channel = await connection.CreateChannelAsync();
        await channel.QueueDeclareAsync(name, durable: true, exclusive: false, autoDelete: false);
        return name;
    }

    private static async Task PublishAsync(IConnection connection, string queue, params string[] texts)
    {
        // Confirmed and mandatory: each publish returns once the broker has the message in the queue, and throws when
        // no queue took it.
        await using IChannel channel = await connection.CreateChannelAsync(new CreateChannelOptions(publisherConfirmationsEnabled: true, publisherConfirmationTrackingEnabled: true));
        foreach (string text in texts)
        {
            await channel.BasicPublishAsync(string.Empty, queue, mandatory: true, new BasicProperties { Persistent = true }, Encoding.UTF8.GetBytes(text));
        }
    }

    /// <summary>
    /// Publishes once the broker routes to the queue: a broker just started again accepts connections before it has
    /// brought its durable queues back, and until then it returns a message as unroutable (312 NO_ROUTE).
    /// </summary>
    private static async Task PublishOnceRoutedAsync(IConnection connection, string queue, string text)
    {
        using var bound = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        while (true)
        {
            try
            {
                await PublishAsync(connection, queue, text);
                return;
            }
            catch (PublishReturnException returned) when (returned.ReplyCode == 312 && !bound.IsCancellationRequested)
            {
                await Task.Delay(100, bound.Token);
            }
        }
    }

    private static async Task<uint> ReadyAsync(IConnection connection, string queue)
    {
        await using IChannel channel = await connection.CreateChannelAsync();
        return (await channel.QueueDeclarePassiveAsync(queue)).MessageCount;
    }

    /// <summary>Waits, within the test bound, until the queue holds <paramref name="expected"/> ready messages.</summary>
    private static async Task ReadyEventuallyAsync(IConnection connection, string queue, uint expected)
    {
        using var bound = new CancellationTokenSource(TaskTimeout.Bound);
        while (await ReadyAsync(connection, queue) != expected)
        {
            await Task.Delay(20, bound.Token);
        }
    }

    private static string Text(RabbitMqDelivery delivery) => Encoding.UTF8.GetString(delivery.Body.Span);
}
