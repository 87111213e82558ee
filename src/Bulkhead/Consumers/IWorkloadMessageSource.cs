namespace Bulkhead;

/// <summary>
/// Where a <see cref="WorkloadConsumer"/> pulls messages from, one at a time: a broker's queue, a channel. The consumer
/// asks for the next message only once the one before has its seat (and it holds fewer than its
/// <see cref="WorkloadConsumerOptions.MaxInFlight"/>), so that a full class stops it from consuming instead of making
/// it take messages it cannot run; a source that fetches from its broker only while <see cref="ReceiveAsync"/> waits
/// holds no more than that. Each message it receives is then settled exactly once, by one of the three calls below.
/// </summary>
/// <typeparam name="TMessage">The message, as the source delivers it (with what it needs to be settled).</typeparam>
public interface IWorkloadMessageSource<TMessage>
    where TMessage : class
{
    /// <summary>Waits for the next message.</summary>
    /// <param name="cancellationToken">Canceled when the consumer stops.</param>
    /// <returns>The next message, or <see langword="null"/> when the source has no more and never will.</returns>
    ValueTask<TMessage?> ReceiveAsync(CancellationToken cancellationToken);

    /// <summary>The message was handled: remove it for good.</summary>
    /// <param name="message">A message this source delivered.</param>
    /// <param name="cancellationToken">Canceled when the consumer must stop at once.</param>
    /// <returns>A task that completes when the message is settled.</returns>
    ValueTask AcknowledgeAsync(TMessage message, CancellationToken cancellationToken);

    /// <summary>The message was not handled, through no fault of its own (the consumer stopped): deliver it again, to this consumer or another.</summary>
    /// <param name="message">A message this source delivered.</param>
    /// <param name="cancellationToken">Canceled when the consumer must stop at once.</param>
    /// <returns>A task that completes when the message is settled.</returns>
    ValueTask ReturnAsync(TMessage message, CancellationToken cancellationToken);

    /// <summary>
    /// Handling the message failed: set it aside (a dead-letter queue) rather than deliver it again, so that a message
    /// that always fails does not loop.
    /// </summary>
    /// <param name="message">A message this source delivered.</param>
    /// <param name="failure">What the handler threw.</param>
    /// <param name="cancellationToken">Canceled when the consumer must stop at once.</param>
    /// <returns>A task that completes when the message is settled.</returns>
    ValueTask RejectAsync(TMessage message, Exception failure, CancellationToken cancellationToken);
}
