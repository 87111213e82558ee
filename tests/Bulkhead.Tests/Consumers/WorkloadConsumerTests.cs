using System.Collections.Concurrent;
using System.Threading.Channels;
using Microsoft.Extensions.Time.Testing;

namespace Bulkhead.Tests.Consumers;

/// <summary>
/// The consumer gate: a full class stops the consumer from pulling; messages are acknowledged only after their handler
/// ends; a stop finishes what runs and returns what waited; a message that fails is set aside once, not redelivered.
/// </summary>
public sealed class WorkloadConsumerTests : IDisposable
{
    private readonly TestScheduler _scheduler = TestScheduler.Create(
        new WorkloadIsolationOptions { TotalConcurrency = 4, DefaultClass = "interactive" }
            .AddClass("interactive")
            .AddClass("reporting", c => (c.Priority, c.MaxConcurrency) = (2, 1)),
        new FakeTimeProvider());

    private WorkloadClass Reports => _scheduler.GetClass("reporting");

    public void Dispose() => _scheduler.Dispose();

    [Fact]
    public async Task AFullClass_StopsTheConsumerFromPulling_AndMessagesRunOneSeatAtATimeOnceItFrees()
    {
        var source = new MemorySource("a", "b", "c", "d", "e");
        WorkloadLease held = Reports.TryAcquire();
        int running = 0;
        int mostRunning = 0;
        List<string?> classes = [];
        List<string> ran = [];

        Task consuming = WorkloadConsumer.RunAsync(
            Reports,
            source,
            async (message, _) =>
            {
                InterlockedMax.Raise(ref mostRunning, Interlocked.Increment(ref running));
                lock (classes)
                {
                    classes.Add(WorkloadContext.Current?.WorkloadClass);
                    ran.Add(message.Id);
                }

                await Task.Yield();
                Interlocked.Decrement(ref running);
            },
            new WorkloadConsumerOptions { MaxInFlight = 2 });

        // The class's one seat is taken: the consumer holds one message waiting for it and pulls no more, though
        // MaxInFlight would let it hold two.
        await Eventually.TrueAsync(() => source.Received.Count == 1 && _scheduler.GetSnapshot()["reporting"].Queued == 1, "a message waits for the seat");
        await Task.Delay(50);
        Assert.Single(source.Received);
        Assert.Empty(source.Acknowledged);

        held.Dispose();
        source.Complete();
        await consuming.WithTimeout();

        // They run one at a time in the order received. A message is acknowledged after its handler ends and its seat
        // is free, so the next one may be acknowledged first: each once, in any order.
        Assert.Equal(["a", "b", "c", "d", "e"], ran);
        Assert.Equal(["a", "b", "c", "d", "e"], source.Acknowledged.Order());
        Assert.Equal(1, mostRunning);
        Assert.All(classes, c => Assert.Equal("reporting", c));
        Assert.Empty(source.Returned);
        Assert.Empty(source.Rejected);
        Assert.Equal(0, _scheduler.GetSnapshot()["reporting"].InFlight);
    }

    [Fact]
    public async Task ThePull_FollowsTheFreeSeats_OneMessageAheadOfThem_UpToMaxInFlight()
    {
        var source = new MemorySource("m1", "m2", "m3", "m4", "m5");
        WorkloadClass interactive = _scheduler.GetClass("interactive");
        WorkloadLease[] held = [interactive.TryAcquire(), interactive.TryAcquire(), interactive.TryAcquire()];
        var gate = new Gate();
        int running = 0;
        using var stop = new CancellationTokenSource();

        Task consuming = WorkloadConsumer.RunAsync(
            interactive,
            source,
            async (_, _) =>
            {
                Interlocked.Increment(ref running);
                await gate.WaitAsync();
            },
            new WorkloadConsumerOptions { MaxInFlight = 3 },
            stop.Token);

        // One seat of four is free: one message runs, the next waits for a seat, and no more are pulled.
        await Eventually.TrueAsync(() => Volatile.Read(ref running) == 1 && source.Received.Count == 2, "m1 runs, m2 waits");
        await Task.Delay(50);
        Assert.Equal(2, source.Received.Count);

        // Each seat that frees lets the waiting message run and the next one be pulled...
        held[0].Dispose();
        await Eventually.TrueAsync(() => Volatile.Read(ref running) == 2 && source.Received.Count == 3, "m2 runs, m3 waits");

        // ...up to MaxInFlight: with three held by the consumer, a free seat is not a reason to pull more.
        held[1].Dispose();
        await Eventually.TrueAsync(() => Volatile.Read(ref running) == 3, "m3 runs");
        await Task.Delay(50);
        Assert.Equal(3, source.Received.Count);

        await stop.CancelAsync();
        gate.Open();
        held[2].Dispose();
        await consuming.WithTimeout();
        Assert.Equal(["m1", "m2", "m3"], source.Acknowledged.Order());
        Assert.Empty(source.Returned);
    }

    [Fact]
    public async Task AStopDuringABacklog_FinishesWhatRuns_ReturnsWhatWaited_AndAcknowledgesNothingElse()
    {
        var source = new MemorySource("m1", "m2", "m3", "m4", "m5", "m6");
        var gate = new Gate();
        using var stop = new CancellationTokenSource();

        Task consuming = WorkloadConsumer.RunAsync(Reports, source, async (_, _) => await gate.WaitAsync(), new WorkloadConsumerOptions { MaxInFlight = 3 }, stop.Token);
        await gate.Entered.WithTimeout();
        await Eventually.TrueAsync(() => source.Received.Count == 2 && _scheduler.GetSnapshot()["reporting"].Queued == 1, "m1 runs, m2 waits for its seat");
        await Task.Delay(50);
        Assert.Equal(2, source.Received.Count);

        await stop.CancelAsync();
        gate.Open();
        await consuming.WithTimeout();

        Assert.Equal(["m1"], source.Acknowledged);
        Assert.Equal(["m2"], source.Returned);
        Assert.Equal(["m1", "m2"], source.Received);
        Assert.Empty(source.Rejected);
        Assert.Equal((0, 0), (_scheduler.GetSnapshot()["reporting"].InFlight, _scheduler.GetSnapshot()["reporting"].Queued));
    }

    [Fact]
    public async Task APoisonMessage_IsSetAsideOnce_AndTheOthersRun()
    {
        var source = new MemorySource("ok-1", "poison", "ok-2");
        source.Complete();

        await WorkloadConsumer.RunAsync(
            Reports,
            source,
            (message, _) => message.Id == "poison" ? throw new InvalidDataException("cannot parse") : ValueTask.CompletedTask).WithTimeout();

        Assert.Equal(["ok-1", "ok-2"], source.Acknowledged);
        (string id, Exception failure) = Assert.Single(source.Rejected);
        Assert.Equal(("poison", "cannot parse"), (id, failure.Message));
        Assert.Equal(3, source.Received.Count);
        Assert.Empty(source.Returned);
    }

    [Fact]
    public async Task AHandlerStillRunningWhenTheDrainTimeoutPasses_IsCanceled_AndItsMessageGoesBack()
    {
        var source = new MemorySource("slow");
        using var stop = new CancellationTokenSource();
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

        Task consuming = WorkloadConsumer.RunAsync(
            Reports,
            source,
            async (_, token) =>
            {
                started.TrySetResult();
                await Task.Delay(Timeout.Infinite, token);
            },
            new WorkloadConsumerOptions { DrainTimeout = TimeSpan.Zero },
            stop.Token);
        await started.Task.WithTimeout();
        await stop.CancelAsync();
        await consuming.WithTimeout();

        Assert.Equal(["slow"], source.Returned);
        Assert.Empty(source.Acknowledged);
        Assert.Empty(source.Rejected);
    }

    [Fact]
    public async Task OptionsOutOfRange_AreRefusedNamingTheClassAndTheValue()
    {
        var error = await Assert.ThrowsAsync<ArgumentException>(() => WorkloadConsumer.RunAsync(Reports, new MemorySource(), (_, _) => ValueTask.CompletedTask, new WorkloadConsumerOptions { MaxInFlight = 0 }));

        Assert.Contains("class 'reporting' needs MaxInFlight of at least 1 (it is 0)", error.Message, StringComparison.Ordinal);
    }

    public sealed record Message(string Id);

    /// <summary>A queue in memory that records how each message it delivered was settled.</summary>
    private sealed class MemorySource : IWorkloadMessageSource<Message>
    {
        private readonly Channel<Message> _queue = Channel.CreateUnbounded<Message>();

        public MemorySource(params string[] ids)
        {
            foreach (string id in ids)
            {
                _queue.Writer.TryWrite(new Message(id));
            }
        }

        public ConcurrentQueue<string> Received { get; } = new();

        public ConcurrentQueue<string> Acknowledged { get; } = new();

        public ConcurrentQueue<string> Returned { get; } = new();

        public ConcurrentQueue<(string Id, Exception Failure)> Rejected { get; } = new();

        public void Complete() => _queue.Writer.Complete();

        public async ValueTask<Message?> ReceiveAsync(CancellationToken cancellationToken)
        {
            while (await _queue.Reader.WaitToReadAsync(cancellationToken))
            {
                if (_queue.Reader.TryRead(out Message? message))
                {
                    Received.Enqueue(message.Id);
                    return message;
                }
            }

            return null;
        }

        public ValueTask AcknowledgeAsync(Message message, CancellationToken cancellationToken) => Settle(Acknowledged, message);

        public ValueTask ReturnAsync(Message message, CancellationToken cancellationToken) => Settle(Returned, message);

        public ValueTask RejectAsync(Message message, Exception failure, CancellationToken cancellationToken)
        {
            Assert.DoesNotContain(message.Id, Settled());
            Rejected.Enqueue((message.Id, failure));
            return ValueTask.CompletedTask;
        }

        private ValueTask Settle(ConcurrentQueue<string> into, Message message)
        {
            // Each message is settled once, and only a message this source delivered.
            Assert.Contains(message.Id, Received);
            Assert.DoesNotContain(message.Id, Settled());
            into.Enqueue(message.Id);
            return ValueTask.CompletedTask;
        }

        private IEnumerable<string> Settled() => [.. Acknowledged, .. Returned, .. Rejected.Select(r => r.Id)];
    }
}
