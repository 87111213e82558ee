using RabbitMQ.Client;

namespace Bulkhead.RabbitMQ;

/// <summary>A message a <see cref="RabbitMqMessageSource"/> delivered: its body (copied, it outlives the delivery) and what the broker said of it.</summary>
/// <param name="DeliveryTag">The broker's tag of this delivery on its channel, by which it is settled.</param>
/// <param name="Redelivered">Whether the broker delivered it before (to a consumer that did not settle it).</param>
/// <param name="RoutingKey">The key it was published with.</param>
/// <param name="Properties">Its properties (headers, message id, content type).</param>
/// <param name="Body">Its body.</param>
public sealed record RabbitMqDelivery(ulong DeliveryTag, bool Redelivered, string RoutingKey, IReadOnlyBasicProperties Properties, ReadOnlyMemory<byte> Body)
{
    /// <summary>Gets the broker consumer that delivered it (of the source's own), which stops or stays when it is settled.</summary>
    internal string? ConsumerTag { get; init; }
}
