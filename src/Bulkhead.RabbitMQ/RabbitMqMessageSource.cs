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
/// consumers come back with the connection and deliveries resume.
/// </remarks>
public sealed class RabbitMqMessageSource : IWorkloadMessageSource<RabbitMqDelivery>, IAsyncDisposable
{
    private readonly IChannel _channel;
    private readonly string _queue;
    private readonly int _mostHeld;
    private readonly AsyncEventingBasicConsumer _consumer;
    private readonly string _tagPrefix = $"bulkhead-{Guid.NewGuid():N}-";
    private readonly Channel<RabbitMqDelivery> _deliveries = Channel.CreateUnbounded<RabbitMqDelivery>();
    private readonly Lock _lock = new();

    // Broker consumers of prefetch 1: open ones wait for a delivery; busy ones hold one not settled yet.
    private readonly HashSet<string> _open = [];
    private readonly HashSet<string> _busy = [];
    private int _held;
    private int _receiving;
    private int _nextTag;
    private bool _disposed;

    private RabbitMqMessageSource(IChannel channel, string queue, int mostHeld)
    {
        _channel = channel;
        _queue = queue;
        _mostHeld = mostHeld;
        _consumer = new AsyncEventingBasicConsumer(channel);
        _consumer.ReceivedAsync += OnReceivedAsync;
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

        return new RabbitMqMessageSource(channel, queue, prefetch);
    }

    /// <inheritdoc />
    public async ValueTask<RabbitMqDelivery?> ReceiveAsync(CancellationToken cancellationToken)
    {
        if (_deliveries.Reader.TryRead(out RabbitMqDelivery? ready))
        {
            return ready;
        }

        string? start = null;
        lock (_lock)
        {
            _receiving++;

            // One broker consumer waits for a delivery while the consumer waits for a message, within the prefetch.
            if (_open.Count == 0 && _deliveries.Reader.Count == 0 && _held < _mostHeld)
            {
                start = _tagPrefix + _nextTag++;
                _open.Add(start);
            }
        }

        try
        {
            if (start is not null)
            {
                try
                {
                    await ConsumeAsync(start, cancellationToken).ConfigureAwait(false);
                }
                catch
                {
                    lock (_lock)
                    {
                        _open.Remove(start);
                    }

                    throw;
                }
            }

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
        _deliveries.Writer.TryComplete();
        string[] consumers;
        lock (_lock)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            consumers = [.. _open, .. _busy];
            _open.Clear();
            _busy.Clear();
        }

        try
        {
            foreach (string consumer in consumers)
            {
                await CancelAsync(consumer).ConfigureAwait(false);
            }

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
                if (_receiving > 0 && _open.Count == 0 && _deliveries.Reader.Count == 0)
                {
                    _open.Add(consumer);
                }
                else
                {
                    stop = true;
                }
            }
        }

        try
        {
            if (stop)
            {
                await CancelAsync(message.ConsumerTag!).ConfigureAwait(false);
            }

            await settle(_channel, message.DeliveryTag, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception exception) when (exception is AlreadyClosedException or OperationInterruptedException)
        {
            // The channel closed since the delivery: the broker redelivers the message; its old tag settles nothing.
        }
    }

    /// <summary>
    /// Starts a broker consumer; while the connection is down (a broker restart), tries again every quarter second
    /// until the client's recovery brings the channel back or the receive is canceled. A channel error (the queue was
    /// deleted, access refused) is thrown.
    /// </summary>
    private async Task ConsumeAsync(string consumer, CancellationToken cancellationToken)
    {
        while (true)
        {
            try
            {
                await _channel.BasicConsumeAsync(_queue, autoAck: false, consumer, noLocal: false, exclusive: false, arguments: null, _consumer, cancellationToken).ConfigureAwait(false);
                return;
            }
            catch (OperationInterruptedException exception) when (!_disposed && !IsChannelError(exception.ShutdownReason))
            {
                await Task.Delay(TimeSpan.FromMilliseconds(250), cancellationToken).ConfigureAwait(false);
            }
        }
    }

    /// <summary>Whether the broker closed the channel for what it was asked (AMQP's channel errors), not because the connection went.</summary>
    private static bool IsChannelError(ShutdownEventArgs? reason) => reason?.ReplyCode is 311 or 313 or 403 or 404 or 405 or 406;

    private async Task CancelAsync(string consumer)
    {
        if (_channel.IsOpen)
        {
            await _channel.BasicCancelAsync(consumer).ConfigureAwait(false);
        }
    }
}
