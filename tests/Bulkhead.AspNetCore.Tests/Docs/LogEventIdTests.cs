using System.Reflection;
using Microsoft.Extensions.Logging;

namespace Bulkhead.AspNetCore.Tests.Docs;

/// <summary>Every log event of the product has an id of its own, and docs/metrics.md lists it.</summary>
public sealed class LogEventIdTests
{
    [Fact]
    public void EveryLogEvent_HasAnIdOfItsOwn_AndIsDocumented()
    {
        LoggerMessageAttribute[] events =
        [
            .. new[] { typeof(WorkloadIsolationOptions).Assembly, typeof(WorkloadIsolationHttpOptions).Assembly, typeof(Bulkhead.Redis.RedisFleetOptions).Assembly }
                .SelectMany(assembly => assembly.GetTypes())
                .SelectMany(type => type.GetMethods(BindingFlags.Static | BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.DeclaredOnly))
                .Select(method => method.GetCustomAttribute<LoggerMessageAttribute>())
                .OfType<LoggerMessageAttribute>(),
        ];
        string docs = Repository.ReadAllText("docs", "metrics.md");

        Assert.True(events.Length >= 15, $"found only {events.Length} log events");
        Assert.Empty(events.GroupBy(e => e.EventId).Where(g => g.Count() > 1).Select(g => $"{g.Key}: {string.Join(" | ", g.Select(e => e.Message))}"));
        Assert.All(events, e => Assert.Contains($"| {e.EventId} | {e.Level} |", docs, StringComparison.Ordinal));
    }
}
