namespace Bulkhead;

/// <summary>How a <see cref="WorkloadConsumer"/> runs. See docs/consumers.md.</summary>
public sealed class WorkloadConsumerOptions
{
    /// <summary>Gets or sets the most messages handled at once by this consumer, whatever its class could seat; at least 1.</summary>
    /// <value>The default value is 1.</value>
    public int MaxInFlight { get; set; } = 1;

    /// <summary>
    /// Gets or sets how long messages being handled when the consumer stops may take to finish; after it, their
    /// handlers' token is canceled, and a message whose handler then ends canceled is returned to the source, not acknowledged.
    /// </summary>
    /// <value>The default value is 30 seconds.</value>
    public TimeSpan DrainTimeout { get; set; } = TimeSpan.FromSeconds(30);
}
