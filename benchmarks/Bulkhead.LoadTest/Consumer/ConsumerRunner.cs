using System.Globalization;
using System.Text;
using Bulkhead.LoadTest.Client;
using Bulkhead.LoadTest.Reporting;
using Bulkhead.TestUtils;
using RabbitMQ.Client;
using Spectre.Console;

namespace Bulkhead.LoadTest.Consumer;

/// <summary>One run of one mode: the interactive endpoint against its baseline while the process drains a backlog of report messages.</summary>
public sealed record ConsumerResult(Mode Mode, int Repetition, double BaselineP99, double P50, double P99, double MessagesPerSecond, long InteractiveErrors);

/// <summary>
/// Background work off a real broker: Debian's rabbitmq-server on loopback holds a backlog of CPU-heavy report messages
/// that the server under test consumes while the driver measures its interactive endpoint, each mode right after its
/// own baseline: the interactive p99 against it, and the messages handled a second against the unprotected consumer's.
/// </summary>
public static class ConsumerRunner
{
    public static async Task<IReadOnlyList<ConsumerResult>> RunAsync(LoadTestOptions options, IAnsiConsole console, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(console);
        await using RabbitMqServer broker = await RabbitMqServer.StartAsync();
        console.MarkupLine($"rabbitmq-server on port {broker.Port}.");
        var factory = new ConnectionFactory { Uri = broker.Uri };
        await using IConnection connection = await factory.CreateConnectionAsync(cancellationToken);
        return await ScenarioRuns.RepeatAsync(options.ConsumerModes, options, console, Describe, (mode, repetition) => RunModeAsync(mode, repetition, broker, connection, options, cancellationToken));
    }

    public static Task WriteAsync(IReadOnlyList<ConsumerResult> results, LoadTestOptions options, IAnsiConsole console, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(results);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(console);
        return ScenarioRuns.WriteAsync(
            "consumer",
            ToMarkdown(results, options),
            ["mode,repetition,baseline_p99_ms,p50_ms,p99_ms,messages_per_s,interactive_errors", .. results.Select(r => string.Create(CultureInfo.InvariantCulture, $"{r.Mode},{r.Repetition},{r.BaselineP99:F2},{r.P50:F2},{r.P99:F2},{r.MessagesPerSecond:F2},{r.InteractiveErrors}"))],
            options,
            console,
            cancellationToken);
    }

    public static string Describe(Mode mode) => mode switch
    {
        Mode.ConsumerNoIsolation => $"no isolation (a RabbitMQ.Client consumer, {Environment.ProcessorCount} messages at once on the ThreadPool)",
        Mode.ConsumerBulkhead => $"Bulkhead (the consumer gate over RabbitMqMessageSource, reporting of kind CpuBound: {Environment.ProcessorCount} threads at Lowest)",
        Mode.ConsumerBulkheadIdle => $"Bulkhead, as above with its {Environment.ProcessorCount} threads at Idle",
        _ => mode.ToString(),
    };

    private static async Task<ConsumerResult> RunModeAsync(Mode mode, int repetition, RabbitMqServer broker, IConnection connection, LoadTestOptions options, CancellationToken cancellationToken)
    {
        double baselineP99 = await ScenarioRuns.BaselineP99Async(options, cancellationToken);

        // A backlog the consumer cannot drain within the run: twice what all cores could render in it.
        double seconds = (options.Settle + options.Duration).TotalSeconds + 5;
        int backlog = (int)(2 * seconds * Environment.ProcessorCount * 1_000 / ConsumerServer.ReportCpuMs);
        await using IChannel channel = await connection.CreateChannelAsync(cancellationToken: cancellationToken);
        await channel.QueueDeclareAsync(ConsumerServer.Queue, durable: false, exclusive: false, autoDelete: false, cancellationToken: cancellationToken);
        await channel.QueuePurgeAsync(ConsumerServer.Queue, cancellationToken);
        byte[] body = Encoding.UTF8.GetBytes("monthly-report");
        for (int i = 0; i < backlog; i++)
        {
            await channel.BasicPublishAsync(string.Empty, ConsumerServer.Queue, body, cancellationToken);
        }

        await using ServerProcess server = await ServerProcess.StartAsync(mode, cancellationToken, "--dependency", broker.Uri.ToString());
        using HttpClient client = LoadDriver.CreateClient(server.Address);
        await LoadDriver.WarmUpAsync(client, "/consumed", cancellationToken);
        await Task.Delay(options.Settle, cancellationToken);
        long before = await ConsumedAsync(client, cancellationToken);
        LoadDriver.Interactive measured = await LoadDriver.MeasureInteractiveAsync(client, options, cancellationToken);
        long after = await ConsumedAsync(client, cancellationToken);
        if (await channel.MessageCountAsync(ConsumerServer.Queue, cancellationToken) == 0)
        {
            throw new InvalidOperationException("The backlog ran out during the measurement: the drain rate would be bounded by it.");
        }

        await channel.QueuePurgeAsync(ConsumerServer.Queue, cancellationToken);
        return new ConsumerResult(mode, repetition, baselineP99, measured.Ms(50), measured.Ms(99), (after - before) / measured.Seconds, measured.Errors);
    }

    private static async Task<long> ConsumedAsync(HttpClient client, CancellationToken cancellationToken) =>
        long.Parse(await client.GetStringAsync("/consumed", cancellationToken), CultureInfo.InvariantCulture);

    /// <summary>Medians over the repetitions (min–max); each Bulkhead run's drain rate against the unprotected one of its repetition.</summary>
    public static string ToMarkdown(IReadOnlyList<ConsumerResult> results, LoadTestOptions options)
    {
        ArgumentNullException.ThrowIfNull(results);
        ArgumentNullException.ThrowIfNull(options);
        CultureInfo c = CultureInfo.InvariantCulture;
        var text = new StringBuilder();
        text.AppendLine(c, $"Interactive: {options.InteractiveRate} requests/s open loop for {options.Duration.TotalSeconds:F0} s. Reports: a backlog of messages on a real rabbitmq-server, "
            + $"{ConsumerServer.ReportCpuMs:F0} ms of CPU each, consumed by the same process. {options.Repetitions} repetition(s), each mode right after its own baseline; medians with min–max.");
        text.AppendLine();
        text.AppendLine("| mode | interactive p99 ÷ baseline | interactive p50 | interactive p99 | messages/s | drain ÷ unprotected | interactive errors |");
        text.AppendLine("|---|---:|---:|---:|---:|---:|---:|");
        foreach (IGrouping<Mode, ConsumerResult> mode in results.GroupBy(r => r.Mode))
        {
            double[] ratio = [.. mode.Select(r => r.P99 / r.BaselineP99)];
            double[] drain = [.. mode.Select(r => results.FirstOrDefault(u => u.Mode == Mode.ConsumerNoIsolation && u.Repetition == r.Repetition) is { } unprotected ? r.MessagesPerSecond / unprotected.MessagesPerSecond : double.NaN)];
            text.AppendLine(c, $"| {Describe(mode.Key)} | {ModeSummary.Range(ratio, "×")} | {ModeSummary.Median(mode.Select(r => r.P50)):F1} ms | "
                + $"{ModeSummary.Median(mode.Select(r => r.P99)):F1} ms | {ModeSummary.Median(mode.Select(r => r.MessagesPerSecond)):F1} | {(drain.Any(double.IsNaN) ? "–" : ModeSummary.Range(drain, "×"))} | {mode.Sum(r => r.InteractiveErrors)} |");
        }

        return text.ToString();
    }
}
