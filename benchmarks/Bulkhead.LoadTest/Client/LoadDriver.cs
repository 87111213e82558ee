using System.Diagnostics;
using HdrHistogram;

namespace Bulkhead.LoadTest.Client;

/// <summary>The result of one phase: interactive latencies and report throughput.</summary>
public sealed record PhaseResult(Mode Mode, int Repetition, bool IsBaseline, double P50, double P99, double P999, double Max,
    double ReportsPerSecond, long Rejections, long InteractiveErrors);

/// <summary>
/// Drives one phase: interactive requests at a fixed arrival rate (open loop; latency from each request's scheduled
/// send time, so queueing cannot hide behind coordinated omission), and, unless it is a baseline, a flood of report
/// requests from closed-loop clients.
/// </summary>
internal static class LoadDriver
{
    public static async Task<PhaseResult> RunAsync(Uri server, Mode mode, int repetition, bool baseline, LoadTestOptions options, CancellationToken cancellationToken)
    {
        using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = 1_000, PooledConnectionLifetime = TimeSpan.FromMinutes(5) })
        {
            BaseAddress = server,
            Timeout = TimeSpan.FromSeconds(60),
        };

        // Warm up both endpoints and the connection pool.
        for (int i = 0; i < 20; i++)
        {
            await http.GetAsync("/interactive", cancellationToken);
        }

        await http.GetAsync("/report", cancellationToken);

        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        long reports = 0;
        long rejections = 0;
        var flooders = new List<Task>();
        if (!baseline)
        {
            for (int c = 0; c < options.ReportClients; c++)
            {
                flooders.Add(Task.Run(async () =>
                {
                    while (!stop.IsCancellationRequested)
                    {
                        try
                        {
                            using HttpResponseMessage response = await http.GetAsync("/report", stop.Token);
                            if (response.IsSuccessStatusCode)
                            {
                                Interlocked.Increment(ref reports);
                            }
                            else
                            {
                                Interlocked.Increment(ref rejections);
                            }
                        }
                        catch (OperationCanceledException) when (stop.IsCancellationRequested)
                        {
                        }
                    }
                }, CancellationToken.None));
            }

            // Let the flood build up before measuring.
            await Task.Delay(TimeSpan.FromSeconds(Math.Min(1, options.Duration.TotalSeconds / 4)), cancellationToken);
        }

        long reportsBefore = Interlocked.Read(ref reports);
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
        double measured = Stopwatch.GetElapsedTime(start).TotalSeconds;
        long reportsDone = Interlocked.Read(ref reports) - reportsBefore;
        await stop.CancelAsync();
        await Task.WhenAll(flooders);

        double Ms(double percentile) => histogram.GetValueAtPercentile(percentile) / (double)TimeSpan.TicksPerMillisecond;
        return new PhaseResult(mode, repetition, baseline, Ms(50), Ms(99), Ms(99.9), histogram.GetMaxValue() / (double)TimeSpan.TicksPerMillisecond,
            baseline ? 0 : reportsDone / measured, Interlocked.Read(ref rejections), Interlocked.Read(ref errors));
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
}
