using System.Threading.Channels;
using RabbitMQ.Client;
using RabbitMQ.Client.Events;
using RabbitMQ.Client.Exceptions;

namespace Bulkhead.RabbitMQ;

/// <summary>
/// A RabbitMQ queue as a <see cref="IWorkloadMessageSource{TMessage}"/>: the broker pushes at most the prefetch count of
/// unacknowledged messages to this consumer, so that while a <see cref="WorkloadConsumer"/> holds its messages waiting
/// for seats the broker sends no more and other consumers take the rest. Settled as RabbitMQ does: acknowledged; returned
/// with <c>basic.nack</c> and requeue; rejected with <c>basic.nack</c> without requeue (dead-lettered when the queue has
/// a dead-letter exchange, dropped otherwise).
/// </summary>
/// <remarks>
/// A message whose channel closed before it was settled (a broker restart, a lost connection) is redelivered by the
/// broker; settling it on the old delivery tag does nothing. With the client's automatic recovery (the default), the
/// consumer comes back with the connection and deliveries resume.
/// </remarks>
public sealed class RabbitMqMessageSource : IWorkloadMessageSource<RabbitMqDelivery>, IAsyncDisposable
{
    private readonly IChannel _channel;
    private readonly Channel<RabbitMqDelivery> _deliveries = Channel.CreateUnbounded<RabbitMqDelivery>(new UnboundedChannelOptions { SingleReader = true });
    private string? _consumerTag;

    private RabbitMqMessageSource(IChannel channel) => _channel = channel;

    /// <summary>
    /// Starts consuming <paramref name="queue"/> on a channel of its own, holding at most <paramref name="prefetch"/>
    /// unacknowledged messages (give it the consumer's <see cref="WorkloadConsumerOptions.MaxInFlight"/>).
    /// </summary>
    /// <param name="connection">The connection; its channel for this queue is created here and closed when the source is disposed.</param>
    /// <param name="queue">The queue, which must exist.</param>
    /// <param name="prefetch">The most unacknowledged messages the broker sends this consumer, at least 1.</param>
    /// <param name="cancellationToken">Cancels starting.</param>
    /// <returns>The source, consuming.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="prefetch"/> is 0.</exception>
    public static async Task<RabbitMqMessageSource> StartAsync(IConnection connection, string queue, ushort prefetch, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(connection);
        ArgumentException.ThrowIfNullOrEmpty(queue);
        ArgumentOutOfRangeException.ThrowIfZero(prefetch);

        IChannel channel = await connection.CreateChannelAsync(cancellationToken: cancellationToken).ConfigureAwait(false);
        var source = new RabbitMqMessageSource(channel);
        await channel.BasicQosAsync(0, prefetch, global: false, cancellationToken).ConfigureAwait(false);
        var consumer = new AsyncEventingBasicConsumer(channel);
        consumer.ReceivedAsync += source.OnReceivedAsync;
        source._consumerTag = await channel.BasicConsumeAsync(queue, autoAck: false, consumer, cancellationToken).ConfigureAwait(false);
        return source;
    }

    /// <inheritdoc />
    public async ValueTask<RabbitMqDelivery?> ReceiveAsync(CancellationToken cancellationToken) =>
        await _deliveries.Reader.WaitToReadAsync(cancellationToken).ConfigureAwait(false) && _deliveries.Reader.TryRead(out RabbitMqDelivery? delivery)
            ? delivery
            : null;

    /// <inheritdoc />
    public ValueTask AcknowledgeAsync(RabbitMqDelivery message, CancellationToken cancellationToken) =>
        SettleAsync(message, static (channel, tag, token) => channel.BasicAckAsync(tag, multiple: false, token), cancellationToken);

    /// <inheritdoc />
    public ValueTask ReturnAsync(RabbitMqDelivery message, CancellationToken cancellationToken) =>
        SettleAsync(message, static (channel, tag, token) => channel.BasicNackAsync(tag, multiple: false, requeue: true, token), cancellationToken);

    /// <inheritdoc />
    public ValueTask RejectAsync(RabbitMqDelivery message, Exception failure, CancellationToken cancellationToken) =>
        SettleAsync(message, static (channel, tag, token) => channel.BasicNackAsync(tag, multiple: false, requeue: false, token), cancellationToken);

    /// <summary>Stops consuming and closes the channel; messages not settled are redelivered by the broker.</summary>
    /// <returns>A task that completes when the channel is closed.</returns>
    public async ValueTask DisposeAsync()
    {
        _deliveries.Writer.TryComplete();
        try
        {
            if (_consumerTag is not null && _channel.IsOpen)
            {
                await _channel.BasicCancelAsync(_consumerTag).ConfigureAwait(false);
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
        // The body belongs to the client's buffer until this returns: the message keeps a copy.
        _deliveries.Writer.TryWrite(new RabbitMqDelivery(delivery.DeliveryTag, delivery.Redelivered, delivery.RoutingKey, delivery.BasicProperties, delivery.Body.ToArray()));
        return Task.CompletedTask;
    }

    private async ValueTask SettleAsync(RabbitMqDelivery message, Func<IChannel, ulong, CancellationToken, ValueTask> settle, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(message);
        try
        {
            await settle(_channel, message.DeliveryTag, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception exception) when (exception is AlreadyClosedException or OperationInterruptedException)
        {
            // The channel closed since the delivery: the broker redelivers the message; its old tag settles nothing.
        }
    }
}
