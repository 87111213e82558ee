using System.Diagnostics;
using Bulkhead.LoadTest.Client;
using HdrHistogram;

namespace Bulkhead.LoadTest.HotTenant;

/// <summary>One tenant in one phase: what it offered, what was served and refused, and its p99 from each request's scheduled send.</summary>
/// <remarks><see cref="Served"/> counts what was answered within the phase: what the tenant got of the capacity then.</remarks>
public sealed record TenantStats(string Tenant, bool Hot, long Offered, long Served, long Refused, double P99);

/// <summary>One run of one mode: the quiet tenants alone, then with the hot tenant, on one server.</summary>
public sealed record HotTenantResult(Mode Mode, int Repetition, IReadOnlyList<TenantStats> Alone, IReadOnlyList<TenantStats> WithHot);

/// <summary>
/// Ten tenants of one reporting class, each an open loop at its own rate (latency from each request's scheduled send,
/// so a queue cannot hide): nine quiet ones at <see cref="LoadTestOptions.TenantRate"/>, measured alone first, then
/// with the hot tenant at ten times that rate.
/// </summary>
internal static class HotTenantDriver
{
    public const int QuietTenants = 9;

    public static async Task<HotTenantResult> RunAsync(Mode mode, int repetition, LoadTestOptions options, CancellationToken cancellationToken)
    {
        await using ServerProcess server = await ServerProcess.StartAsync(mode, cancellationToken);
        using HttpClient client = LoadDriver.CreateClient(server.Address);
        for (int i = 0; i < 20; i++)
        {
            (await SendAsync(client, $"quiet-{i % QuietTenants}", cancellationToken)).Dispose();
        }

        string[] quiet = [.. Enumerable.Range(0, QuietTenants).Select(i => $"quiet-{i}")];
        IReadOnlyList<TenantStats> alone = await MeasureAsync(client, quiet, hot: null, options, cancellationToken);
        IReadOnlyList<TenantStats> withHot = await MeasureAsync(client, quiet, hot: "hot", options, cancellationToken);
        return new HotTenantResult(mode, repetition, alone, withHot);
    }

    private static async Task<IReadOnlyList<TenantStats>> MeasureAsync(HttpClient client, string[] quiet, string? hot, LoadTestOptions options, CancellationToken cancellationToken)
    {
        IEnumerable<(string Tenant, bool Hot, double Rate)> tenants = quiet.Select(t => (t, false, options.TenantRate));
        if (hot is not null)
        {
            tenants = tenants.Append((hot, true, options.TenantRate * 10));
        }

        // The tenants' arrivals are staggered evenly over one quiet interval, not all at the same instants.
        long start = Stopwatch.GetTimestamp();
        (string Tenant, bool Hot, double Rate)[] all = [.. tenants];
        long stagger = (long)(Stopwatch.Frequency / options.TenantRate / all.Length);
        return await Task.WhenAll(all.Select((t, k) => RunTenantAsync(client, t.Tenant, t.Hot, t.Rate, start, start + (k * stagger), options.Duration, cancellationToken)));
    }

    private static async Task<TenantStats> RunTenantAsync(HttpClient client, string tenant, bool hot, double rate, long start, long first, TimeSpan duration, CancellationToken cancellationToken)
    {
        var histogram = new LongHistogram(TimeSpan.FromMinutes(5).Ticks, 3);
        long served = 0;
        long refused = 0;
        long end = start + (long)(duration.TotalSeconds * Stopwatch.Frequency);
        var requests = new List<Task>();
        int count = (int)(duration.TotalSeconds * rate);
        for (int i = 0; i < count; i++)
        {
            long scheduled = first + (long)(i / rate * Stopwatch.Frequency);
            TimeSpan wait = Stopwatch.GetElapsedTime(Stopwatch.GetTimestamp(), scheduled);
            if (wait > TimeSpan.Zero)
            {
                await Task.Delay(wait, cancellationToken);
            }

            requests.Add(Task.Run(
                async () =>
                {
                    bool ok;
                    try
                    {
                        using HttpResponseMessage response = await SendAsync(client, tenant, cancellationToken);
                        ok = response.IsSuccessStatusCode;
                    }
                    catch (HttpRequestException)
                    {
                        ok = false;
                    }

                    if (!ok)
                    {
                        Interlocked.Increment(ref refused);
                        return;
                    }

                    if (Stopwatch.GetTimestamp() <= end)
                    {
                        Interlocked.Increment(ref served);
                    }

                    long ticks = Stopwatch.GetElapsedTime(scheduled).Ticks;
                    lock (histogram)
                    {
                        histogram.RecordValue(Math.Max(1, ticks));
                    }
                },
                CancellationToken.None));
        }

        await Task.WhenAll(requests);
        double p99 = histogram.TotalCount == 0 ? 0 : histogram.GetValueAtPercentile(99) / (double)TimeSpan.TicksPerMillisecond;
        return new TenantStats(tenant, hot, count, served, refused, p99);
    }

    private static async Task<HttpResponseMessage> SendAsync(HttpClient client, string tenant, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/tenant-report");
        request.Headers.Add(HotTenantServer.TenantHeader, tenant);
        return await client.SendAsync(request, cancellationToken);
    }
}
