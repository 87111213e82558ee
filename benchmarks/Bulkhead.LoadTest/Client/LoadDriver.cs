using System.Diagnostics;
using HdrHistogram;

namespace Bulkhead.LoadTest.Client;

/// <summary>The result of one phase: interactive latencies and report throughput.</summary>
/// <remarks>
/// <see cref="ServerCores"/> and <see cref="DriverCores"/> are the CPU the server and the load generator used while the
/// phase was measured, in cores (CPU time over wall time): where the machine's two cores went.
/// </remarks>
public sealed record PhaseResult(Mode Mode, int Repetition, bool IsBaseline, double P50, double P99, double P999, double Max,
    double ReportsPerSecond, long Rejections, long InteractiveErrors, double ServerCores = 0, double DriverCores = 0);

/// <summary>
/// Drives one phase: interactive requests at a fixed arrival rate (open loop; latency from each request's scheduled
/// send time, so queueing cannot hide behind coordinated omission), and, unless it is a baseline, a flood of report
/// requests from closed-loop clients.
/// </summary>
internal static class LoadDriver
{
    public static async Task<PhaseResult> RunAsync(ServerProcess server, Mode mode, int repetition, bool baseline, LoadTestOptions options, CancellationToken cancellationToken)
    {
        using HttpClient http = CreateClient(server.Address);
        await WarmUpAsync(http, "/report", cancellationToken);

        await using Flood? flood = baseline ? null : await Flood.StartAsync(http, "/report", options, cancellationToken);
        long reportsBefore = flood?.Reports ?? 0;
        TimeSpan serverCpu = server.CpuTime;
        TimeSpan driverCpu = Process.GetCurrentProcess().TotalProcessorTime;
        Interactive measured = await MeasureInteractiveAsync(http, options, cancellationToken);
        long reportsDone = (flood?.Reports ?? 0) - reportsBefore;
        double serverCores = (server.CpuTime - serverCpu).TotalSeconds / measured.Seconds;
        double driverCores = (Process.GetCurrentProcess().TotalProcessorTime - driverCpu).TotalSeconds / measured.Seconds;

        return new PhaseResult(mode, repetition, baseline, measured.Ms(50), measured.Ms(99), measured.Ms(99.9), measured.MaxMs,
            baseline ? 0 : reportsDone / measured.Seconds, flood?.Rejections ?? 0, measured.Errors, serverCores, driverCores);
    }

    public static HttpClient CreateClient(Uri server) =>
        new(new SocketsHttpHandler { MaxConnectionsPerServer = 1_000, PooledConnectionLifetime = TimeSpan.FromMinutes(5) })
        {
            BaseAddress = server,
            Timeout = TimeSpan.FromSeconds(60),
        };

    /// <summary>Warms up both endpoints and the connection pool.</summary>
    public static async Task WarmUpAsync(HttpClient http, string reportPath, CancellationToken cancellationToken)
    {
        for (int i = 0; i < 20; i++)
        {
            (await http.GetAsync("/interactive", cancellationToken)).Dispose();
        }

        (await http.GetAsync(reportPath, cancellationToken)).Dispose();
    }

    /// <summary>Interactive requests measured while a flood runs, and the reports per second the flood got meanwhile.</summary>
    /// <summary>
    /// The interactive endpoint alone (its baseline p99), then under a flood of <paramref name="reportPath"/> once it
    /// has settled: the flooded p99 and the reports served a second.
    /// </summary>
    public static async Task<(double BaselineP99, double P99, double ReportsPerSecond)> MeasureBaselineThenFloodAsync(Uri server, string reportPath, LoadTestOptions options, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(options);
        using HttpClient http = CreateClient(server);
        await WarmUpAsync(http, reportPath, cancellationToken);
        Interactive baseline = await MeasureInteractiveAsync(http, options, cancellationToken);

        await using Flood flood = await Flood.StartAsync(http, reportPath, options, cancellationToken);
        await Task.Delay(options.Settle, cancellationToken);
        (Interactive flooded, double reportsPerSecond) = await MeasureUnderFloodAsync(http, flood, options, cancellationToken);
        return (baseline.Ms(99), flooded.Ms(99), reportsPerSecond);
    }

    public static async Task<(Interactive Interactive, double ReportsPerSecond)> MeasureUnderFloodAsync(HttpClient http, Flood flood, LoadTestOptions options, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(flood);
        long before = flood.Reports;
        Interactive measured = await MeasureInteractiveAsync(http, options, cancellationToken);
        return (measured, (flood.Reports - before) / measured.Seconds);
    }

    /// <summary>Interactive requests at the options' rate for their duration, open loop.</summary>
    public static async Task<Interactive> MeasureInteractiveAsync(HttpClient http, LoadTestOptions options, CancellationToken cancellationToken)
    {
        var histogram = new LongHistogram(TimeSpan.FromMinutes(1).Ticks, 3);
        long errors = 0;
        var interactive = new List<Task>();
        TimeSpan interval = TimeSpan.FromSeconds(1.0 / options.InteractiveRate);
        int count = (int)(options.Duration.TotalSeconds * options.InteractiveRate);
        long start = Stopwatch.GetTimestamp();
        for (int i = 0; i < count; i++)
        {
            long scheduled = start + (long)(i * interval.TotalSeconds * Stopwatch.Frequency);
            TimeSpan wait = Stopwatch.GetElapsedTime(Stopwatch.GetTimestamp(), scheduled);
            if (wait > TimeSpan.Zero)
            {
                await Task.Delay(wait, cancellationToken);
            }

            interactive.Add(SendInteractiveAsync(http, scheduled, histogram, () => Interlocked.Increment(ref errors), cancellationToken));
        }

        await Task.WhenAll(interactive);
        return new Interactive(histogram, Interlocked.Read(ref errors), Stopwatch.GetElapsedTime(start).TotalSeconds);
    }

    private static async Task SendInteractiveAsync(HttpClient http, long scheduled, LongHistogram histogram, Action onError, CancellationToken cancellationToken)
    {
        try
        {
            using HttpResponseMessage response = await http.GetAsync("/interactive", cancellationToken);
            if (!response.IsSuccessStatusCode)
            {
                onError();
            }
        }
        catch (HttpRequestException)
        {
            onError();
        }

        long latencyTicks = Stopwatch.GetElapsedTime(scheduled).Ticks;
        lock (histogram)
        {
            histogram.RecordValue(Math.Max(1, latencyTicks));
        }
    }

    /// <summary>What one measurement of the interactive endpoint saw.</summary>
    public sealed record Interactive(LongHistogram Histogram, long Errors, double Seconds)
    {
        public double MaxMs => Histogram.GetMaxValue() / (double)TimeSpan.TicksPerMillisecond;

        public double Ms(double percentile) => Histogram.GetValueAtPercentile(percentile) / (double)TimeSpan.TicksPerMillisecond;
    }
}
