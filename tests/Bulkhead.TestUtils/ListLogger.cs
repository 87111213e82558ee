using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace Bulkhead.TestUtils;

/// <summary>A logger provider that keeps every message, for tests that check what was reported.</summary>
public sealed class ListLoggerProvider : ILoggerProvider
{
    /// <summary>Gets the messages logged, with their level.</summary>
    public ConcurrentQueue<(LogLevel Level, string Message)> Messages { get; } = new();

    /// <inheritdoc />
    public ILogger CreateLogger(string categoryName) => new ListLogger(this);

    /// <inheritdoc />
    public void Dispose()
    {
    }

    private sealed class ListLogger(ListLoggerProvider provider) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            provider.Messages.Enqueue((logLevel, formatter(state, exception)));
    }
}
