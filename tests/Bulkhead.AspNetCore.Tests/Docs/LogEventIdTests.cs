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
            .. new[] { typeof(WorkloadIsolationOptions).Assembly, typeof(WorkloadIsolationHttpOptions).Assembly }
                .SelectMany(assembly => assembly.GetTypes())
                .SelectMany(type => type.GetMethods(BindingFlags.Static | BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.DeclaredOnly))
                .Select(method => method.GetCustomAttribute<LoggerMessageAttribute>())
                .OfType<LoggerMessageAttribute>(),
        ];
        string docs = File.ReadAllText(Path.Combine(RepositoryRoot(), "docs", "metrics.md"));

        Assert.True(events.Length >= 15, $"found only {events.Length} log events");
        Assert.Empty(events.GroupBy(e => e.EventId).Where(g => g.Count() > 1).Select(g => $"{g.Key}: {string.Join(" | ", g.Select(e => e.Message))}"));
        Assert.All(events, e => Assert.Contains($"| {e.EventId} | {e.Level} |", docs, StringComparison.Ordinal));
    }

    private static string RepositoryRoot()
    {
        string? directory = AppContext.BaseDirectory;
        while (directory is not null && !File.Exists(Path.Combine(directory, "Bulkhead.sln")))
        {
            directory = Path.GetDirectoryName(directory);
        }

        return directory ?? throw new InvalidOperationException("Bulkhead.sln not found above the test's directory.");
    }
}
