using System.Threading.Channels;
using RabbitMQ.Client;
using RabbitMQ.Client.Events;
using RabbitMQ.Client.Exceptions;

namespace Bulkhead.RabbitMQ;

/// <summary>
/// A RabbitMQ queue as a <see cref="IWorkloadMessageSource{TMessage}"/> whose prefetch follows what its consumer can
/// seat: it asks the broker for a message only while the consumer waits for one (a RabbitMQ consumer of prefetch 1 for
/// each message it holds, and one more while the consumer waits), so that while the class is full the broker sends it
/// nothing and other consumers, in this process or others, take the rest of the queue. Settled as RabbitMQ does:
/// acknowledged; returned with <c>basic.nack</c> and requeue; rejected with <c>basic.nack</c> without requeue
/// (dead-lettered when the queue has a dead-letter exchange, dropped otherwise).
/// </summary>
/// <remarks>
/// A message whose channel closed before it was settled (a broker restart, a lost connection) is redelivered by the
/// broker; settling it on the old delivery tag does nothing. With the client's automatic recovery (the default), the
/// source asks again once the connection is back: it stops the broker consumers the client brought back (one that held
/// such a message would take another at once) and starts one of its own for a receive that waits.
/// </remarks>
public sealed class RabbitMqMessageSource : IWorkloadMessageSource<RabbitMqDelivery>, IAsyncDisposable
{
    private static readonly TimeSpan s_retryDelay = TimeSpan.FromMilliseconds(250);

    private readonly IConnection _connection;
    private readonly IChannel _channel;
    private readonly string _queue;
    private readonly int _mostHeld;
    private readonly AsyncEventingBasicConsumer _consumer;
    private readonly string _tagPrefix = $"bulkhead-{Guid.NewGuid():N}-";
    private readonly Channel<RabbitMqDelivery> _deliveries = Channel.CreateUnbounded<RabbitMqDelivery>();
    private readonly CancellationTokenSource _disposing = new();
    private CancellationTokenSource _connectionLost = new();
    private readonly Lock _lock = new();

    // The source's broker consumers, each of prefetch 1: open ones consume and hold nothing (or are being started);
    // busy ones hold a delivery not settled yet. A consumer in neither set was stopped.
    private readonly HashSet<string> _open = [];
    private readonly HashSet<string> _busy = [];
    private int _held;
    private int _receiving;
    private int _nextTag;
    private bool _disposed;

    private RabbitMqMessageSource(IConnection connection, IChannel channel, string queue, int mostHeld)
    {
        _connection = connection;
        _channel = channel;
        _queue = queue;
        _mostHeld = mostHeld;
        _consumer = new AsyncEventingBasicConsumer(channel);
        _consumer.ReceivedAsync += OnReceivedAsync;
        _connection.RecoverySucceededAsync += OnRecoveredAsync;
        _connection.ConnectionShutdownAsync += OnConnectionLostAsync;
    }

    /// <summary>
    /// Starts a source for <paramref name="queue"/> on a channel of its own, holding at most <paramref name="prefetch"/>
    /// unacknowledged messages (give it the consumer's <see cref="WorkloadConsumerOptions.MaxInFlight"/>);
    /// it asks the broker for messages only when <see cref="ReceiveAsync"/> waits for one.
    /// </summary>
    /// <param name="connection">The connection; its channel for this queue is created here and closed when the source is disposed.</param>
    /// <param name="queue">The queue, which must exist.</param>
    /// <param name="prefetch">The most unacknowledged messages the broker sends this source, at least 1.</param>
    /// <param name="cancellationToken">Cancels starting.</param>
    /// <returns>The source.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="prefetch"/> is 0.</exception>
    /// <exception cref="OperationInterruptedException">The queue does not exist (the broker's 404), or the broker refused the channel.</exception>
    public static async Task<RabbitMqMessageSource> StartAsync(IConnection connection, string queue, ushort prefetch, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(connection);
        ArgumentException.ThrowIfNullOrEmpty(queue);
        ArgumentOutOfRangeException.ThrowIfZero(prefetch);

        IChannel channel = await connection.CreateChannelAsync(cancellationToken: cancellationToken).ConfigureAwait(false);
        try
        {
            // The queue must exist now (the broker says so at once rather than at the first receive), and every
            // consumer this source starts on the channel holds one unacknowledged message at most.
            await channel.QueueDeclarePassiveAsync(queue, cancellationToken).ConfigureAwait(false);
            await channel.BasicQosAsync(0, 1, global: false, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            channel.Dispose();
            throw;
        }

        return new RabbitMqMessageSource(connection, channel, queue, prefetch);
    }

    /// <inheritdoc />
    public async ValueTask<RabbitMqDelivery?> ReceiveAsync(CancellationToken cancellationToken)
    {
        if (_deliveries.Reader.TryRead(out RabbitMqDelivery? ready))
        {
            return ready;
        }

        lock (_lock)
        {
            _receiving++;
        }

        try
        {
            await AskAsync(cancellationToken).ConfigureAwait(false);
            return await _deliveries.Reader.WaitToReadAsync(cancellationToken).ConfigureAwait(false) && _deliveries.Reader.TryRead(out RabbitMqDelivery? delivery)
                ? delivery
                : null;
        }
        finally
        {
            lock (_lock)
            {
                _receiving--;
            }
        }
    }

    /// <inheritdoc />
    public ValueTask AcknowledgeAsync(RabbitMqDelivery message, CancellationToken cancellationToken) =>
        SettleAsync(message, static (channel, tag, token) => channel.BasicAckAsync(tag, multiple: false, token), cancellationToken);

    /// <inheritdoc />
    public ValueTask ReturnAsync(RabbitMqDelivery message, CancellationToken cancellationToken) =>
        SettleAsync(message, static (channel, tag, token) => channel.BasicNackAsync(tag, multiple: false, requeue: true, token), cancellationToken);

    /// <inheritdoc />
    public ValueTask RejectAsync(RabbitMqDelivery message, Exception failure, CancellationToken cancellationToken) =>
        SettleAsync(message, static (channel, tag, token) => channel.BasicNackAsync(tag, multiple: false, requeue: false, token), cancellationToken);

    /// <summary>Stops consuming and closes the channel; messages not settled are redelivered by the broker. Disposing again does nothing.</summary>
    /// <returns>A task that completes when the channel is closed.</returns>
    public async ValueTask DisposeAsync()
    {
        string[] consumers;
        lock (_lock)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            consumers = TakeConsumersUnsynchronized();
        }

        _connection.RecoverySucceededAsync -= OnRecoveredAsync;
        _connection.ConnectionShutdownAsync -= OnConnectionLostAsync;
        _deliveries.Writer.TryComplete();
        await StopAllAsync(consumers).ConfigureAwait(false);

        await _disposing.CancelAsync().ConfigureAwait(false);
        try
        {
            await _channel.CloseAsync().ConfigureAwait(false);
        }
        catch (Exception exception) when (exception is AlreadyClosedException or OperationInterruptedException)
        {
        }

        _channel.Dispose();
    }

    private Task OnReceivedAsync(object sender, BasicDeliverEventArgs delivery)
    {
        lock (_lock)
        {
            _held++;
            if (_open.Remove(delivery.ConsumerTag))
            {
                _busy.Add(delivery.ConsumerTag);
            }
        }

        // The body belongs to the client's buffer until this returns: the message keeps a copy.
        _deliveries.Writer.TryWrite(new RabbitMqDelivery(delivery.DeliveryTag, delivery.Redelivered, delivery.RoutingKey, delivery.BasicProperties, delivery.Body.ToArray()) { ConsumerTag = delivery.ConsumerTag });
        return Task.CompletedTask;
    }

    /// <summary>
    /// The client's recovery brought the connection back, and with it the consumers that were consuming. The source
    /// does not count on them: it stops every one (one that held a message when the connection went would take another
    /// at once, its message being back in the queue) and starts a consumer of its own for a receive that waits.
    /// </summary>
    private async Task OnRecoveredAsync(object sender, AsyncEventArgs args)
    {
        string[] consumers;
        lock (_lock)
        {
            consumers = TakeConsumersUnsynchronized();
        }

        await StopAllAsync(consumers).ConfigureAwait(false);
        await AskAsync(CancellationToken.None).ConfigureAwait(false);
    }

    private async ValueTask SettleAsync(RabbitMqDelivery message, Func<IChannel, ulong, CancellationToken, ValueTask> settle, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(message);
        bool stop = false;
        lock (_lock)
        {
            _held = Math.Max(0, _held - 1);
            if (message.ConsumerTag is { } consumer && _busy.Remove(consumer))
            {
                // Its broker consumer is free once this is settled: it stays only to give a message to a receive that
                // waits and has no other coming; otherwise it stops first, so that the broker sends it nothing.
                if (Wanted())
                {
                    _open.Add(consumer);
                }
                else
                {
                    stop = true;
                }
            }
        }

        if (stop)
        {
            await StopAsync(message.ConsumerTag!).ConfigureAwait(false);
        }

        try
        {
            await settle(_channel, message.DeliveryTag, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception exception) when (exception is AlreadyClosedException or OperationInterruptedException)
        {
            // The channel closed since the delivery: the broker redelivers the message; its old tag settles nothing.
        }

        // A receive may wait with no consumer to give it a message (this one was held by a consumer stopped since).
        await AskAsync(CancellationToken.None).ConfigureAwait(false);
    }

    /// <summary>Whether a receive waits that no consumer or delivery will answer, and the source may hold one more message.</summary>
    private bool Wanted() => !_disposed && _receiving > 0 && _open.Count == 0 && _deliveries.Reader.Count == 0 && _held < _mostHeld;

    /// <summary>
    /// Starts a broker consumer when <see cref="Wanted"/>. While the connection is down it starts none: the recovery
    /// asks again. Any other failure is tried again after a quarter second, but a channel error (the queue was deleted,
    /// access refused) is thrown.
    /// </summary>
    private async Task AskAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            string consumer;
            lock (_lock)
            {
                if (!Wanted() || !_channel.IsOpen)
                {
                    return;
                }

                consumer = _tagPrefix + _nextTag++;
                _open.Add(consumer);
            }

            try
            {
                using CancellationTokenSource call = BrokerCall();
                await _channel.BasicConsumeAsync(_queue, autoAck: false, consumer, noLocal: false, exclusive: false, arguments: null, _consumer, call.Token).ConfigureAwait(false);
                return;
            }
            catch (Exception exception) when (!(exception is OperationInterruptedException interrupted && IsChannelError(interrupted.ShutdownReason)) && !_disposing.IsCancellationRequested)
            {
                lock (_lock)
                {
                    _open.Remove(consumer);
                }

                await Task.Delay(s_retryDelay, cancellationToken).ConfigureAwait(false);
            }
            catch
            {
                lock (_lock)
                {
                    _open.Remove(consumer);
                }

                throw;
            }
        }
    }

    /// <summary>
    /// A token for a call to the broker that needs its answer: canceled when the source is disposed or the connection is
    /// lost, as the client may otherwise wait for an answer that a connection gone cannot bring.
    /// </summary>
    private CancellationTokenSource BrokerCall()
    {
        lock (_lock)
        {
            return CancellationTokenSource.CreateLinkedTokenSource(_disposing.Token, _connectionLost.Token);
        }
    }

    private async Task OnConnectionLostAsync(object sender, ShutdownEventArgs args)
    {
        CancellationTokenSource lost;
        lock (_lock)
        {
            lost = _connectionLost;
            _connectionLost = new CancellationTokenSource();
        }

        await lost.CancelAsync().ConfigureAwait(false);
        lost.Dispose();
    }

    /// <summary>Whether the broker closed the channel for what it was asked (AMQP's channel errors), not because the connection went.</summary>
    private static bool IsChannelError(ShutdownEventArgs? reason) => reason?.ReplyCode is 311 or 313 or 403 or 404 or 405 or 406;

    /// <summary>Takes every broker consumer the source has, open or holding a message, out of its lists; under the lock.</summary>
    private string[] TakeConsumersUnsynchronized()
    {
        string[] consumers = [.. _open, .. _busy];
        _open.Clear();
        _busy.Clear();
        return consumers;
    }

    private async Task StopAllAsync(string[] consumers)
    {
        foreach (string consumer in consumers)
        {
            await StopAsync(consumer).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Stops a broker consumer. The client forgets it first, so a consumer stopped while the connection is down does not
    /// come back with the recovery; the broker's own failure to answer changes nothing then.
    /// </summary>
    private async Task StopAsync(string consumer)
    {
        try
        {
            using CancellationTokenSource call = BrokerCall();
            await _channel.BasicCancelAsync(consumer, noWait: false, call.Token).ConfigureAwait(false);
        }
        catch (Exception exception) when (exception is OperationInterruptedException or OperationCanceledException or TimeoutException or ObjectDisposedException)
        {
        }
    }
}
