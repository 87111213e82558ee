namespace Bulkhead.Quartz.Tests;

/// <summary>A fact that needs a real redis-server: skipped, with the reason, when none is installed and none is required.</summary>
internal sealed class RedisFactAttribute : FactAttribute
{
    public RedisFactAttribute() => Skip = RedisServer.SkipReason;
}
