namespace Bulkhead.RabbitMQ.Tests;

/// <summary>A fact that needs a real rabbitmq-server: skipped, with the reason, when none is installed and none is required.</summary>
internal sealed class RabbitMqFactAttribute : FactAttribute
{
    public RabbitMqFactAttribute() => Skip = RabbitMqServer.SkipReason;
}
