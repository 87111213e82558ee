using System.Diagnostics;
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text;
using Bulkhead.LoadTest.Reporting;
using Bulkhead.TestUtils;
using HdrHistogram;
using Spectre.Console;
using StackExchange.Redis;

namespace Bulkhead.LoadTest.Fleet;

/// <summary>
/// Fleet-wide limits on a real redis-server: three replicas (own service providers, own connections) admit work of ten
/// tenants under a per-tenant rate and a class cap that are not reached, so that what is measured is the steady state
/// (and, in <see cref="FleetMode.FleetAtTheLimit"/>, under a class rate far below the demand: what refusals cost):
/// Redis round trips per admission (counted by Redis itself, <c>INFO commandstats</c>) and the time an admission takes,
/// against the same limits held locally, in the same run.
/// </summary>
public static class FleetRunner
{
    private const int Replicas = 3;
    private const int ClientsPerReplica = 4;
    private const int Tenants = 10;

    /// <summary>The class's fleet rate in the at-the-limit mode: far below what the clients ask, so most asks are refused.</summary>
    private const int SaturatedRate = 200;

    public static async Task<IReadOnlyList<FleetResult>> RunAsync(LoadTestOptions options, IAnsiConsole console, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(console);

        await using RedisServer redis = await RedisServer.StartAsync();
        await using ConnectionMultiplexer stats = await ConnectionMultiplexer.ConnectAsync(redis.Configuration + ",allowAdmin=true");
        console.MarkupLine($"redis-server on {redis.Configuration}.");
        var results = new List<FleetResult>();
        for (int repetition = 1; repetition <= options.Repetitions; repetition++)
        {
            foreach (FleetMode mode in Enum.GetValues<FleetMode>())
            {
                console.MarkupLine($"[grey]{DateTime.Now:HH:mm:ss}[/] repetition {repetition}/{options.Repetitions}, [bold]{Describe(mode)}[/]");
                results.Add(await RunModeAsync(mode, repetition, redis, stats.GetServer(redis.Configuration), options, cancellationToken));
            }
        }

        return results;
    }

    public static string Describe(FleetMode mode) => mode switch
    {
        FleetMode.Local => "local limits (each replica alone)",
        FleetMode.FleetBatched => "fleet limits on Redis, batched (MaxBatchSize 64)",
        FleetMode.FleetPerAdmission => "fleet limits on Redis, a permit per call (MaxBatchSize 1)",
        FleetMode.FleetAtTheLimit => $"fleet rate on Redis at its limit ({SaturatedRate}/s for the class, batched)",
        _ => mode.ToString(),
    };

    private static async Task<FleetResult> RunModeAsync(FleetMode mode, int repetition, RedisServer redis, IServer stats, LoadTestOptions options, CancellationToken cancellationToken)
    {
        bool fleetWide = mode != FleetMode.Local;
        string prefix = $"bench-{Guid.NewGuid():N}";
        ServiceProvider[] replicas = [.. Enumerable.Range(0, Replicas).Select(_ =>
        {
            var services = new ServiceCollection();
            IWorkloadIsolationBuilder builder = services.AddWorkloadIsolation(o =>
            {
                o.TotalConcurrency = 64;
                o.DefaultClass = "api";
                o.AddClass("api", c =>
                {
                    WorkloadRateLimitOptions rate = mode == FleetMode.FleetAtTheLimit
                        ? new() { PermitsPerSecond = SaturatedRate, PerPartition = false }
                        : new() { PermitsPerSecond = 20_000, Burst = 2_000, PerPartition = true };
                    c.RateLimit = fleetWide ? null : rate;
                    c.Fleet = fleetWide ? new() { RateLimit = rate, MaxConcurrency = mode != FleetMode.FleetAtTheLimit ? 64 : null } : null;
                });
            });
            builder.AddRedisFleetLimits(f =>
            {
                f.Configuration = redis.Configuration;
                f.KeyPrefix = prefix;
                f.MaxBatchSize = mode == FleetMode.FleetPerAdmission ? 1 : 64;
            });
            return services.BuildServiceProvider();
        })];

        try
        {
            using var stop = new CancellationTokenSource();
            using CancellationTokenSource linked = CancellationTokenSource.CreateLinkedTokenSource(stop.Token, cancellationToken);
            var measuring = new StrongBox<bool>();
            Client[] clients = [.. Enumerable.Range(0, Replicas * ClientsPerReplica).Select(i => new Client(
                replicas[i / ClientsPerReplica].GetRequiredService<IWorkloadScheduler>().GetClass("api"),
                $"tenant-{i % Tenants}"))];
            Task[] running = [.. clients.Select(c => c.RunAsync(measuring, linked.Token))];

            await Task.Delay(options.Settle, cancellationToken);
            long callsBefore = await ScriptCallsAsync(stats);
            measuring.Value = true;
            var clock = Stopwatch.StartNew();
            await Task.Delay(options.Duration, cancellationToken);
            measuring.Value = false;
            double seconds = clock.Elapsed.TotalSeconds;
            long calls = await ScriptCallsAsync(stats) - callsBefore;
            await stop.CancelAsync();
            await Task.WhenAll(running);

            var latency = new LongHistogram(TimeSpan.FromSeconds(10).Ticks, 3);
            foreach (Client client in clients)
            {
                latency.Add(client.Latency);
            }

            long admitted = clients.Sum(c => c.Admitted);
            return new FleetResult(
                mode,
                repetition,
                admitted,
                clients.Sum(c => c.Rejected),
                calls,
                seconds,
                latency.GetValueAtPercentile(50) / (double)TimeSpan.TicksPerMicrosecond,
                latency.GetValueAtPercentile(99) / (double)TimeSpan.TicksPerMicrosecond);
        }
        finally
        {
            foreach (ServiceProvider replica in replicas)
            {
                await replica.DisposeAsync();
            }
        }
    }

    /// <summary>Every script Redis ran, by its own count (EVALSHA and EVAL).</summary>
    private static async Task<long> ScriptCallsAsync(IServer server)
    {
        IGrouping<string, KeyValuePair<string, string>>[] info = await server.InfoAsync("commandstats");
        long calls = 0;
        foreach (KeyValuePair<string, string> entry in info.SelectMany(g => g))
        {
            if (entry.Key is "cmdstat_evalsha" or "cmdstat_eval")
            {
                // calls=123,usec=...
                string first = entry.Value.Split(',')[0];
                calls += long.Parse(first["calls=".Length..], CultureInfo.InvariantCulture);
            }
        }

        return calls;
    }

    public static Task WriteAsync(IReadOnlyList<FleetResult> results, LoadTestOptions options, IAnsiConsole console, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(results);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(console);
        return ScenarioRuns.WriteAsync(
            "fleet",
            ToMarkdown(results),
            ["mode,repetition,admitted,rejected,round_trips,seconds,p50_us,p99_us",
             .. results.Select(r => string.Create(CultureInfo.InvariantCulture, $"{r.Mode},{r.Repetition},{r.Admitted},{r.Rejected},{r.RoundTrips},{r.Seconds:F2},{r.P50Microseconds:F1},{r.P99Microseconds:F1}"))],
            options,
            console,
            cancellationToken);
    }

    /// <summary>Medians over the repetitions (min–max), each mode's latency also as the difference to the local limits of the same repetition.</summary>
    public static string ToMarkdown(IReadOnlyList<FleetResult> results)
    {
        ArgumentNullException.ThrowIfNull(results);
        var table = new StringBuilder();
        table.AppendLine("| Limits | Redis round trips per admission | Admission p50 (µs) | Admission p99 (µs) | p50 / p99 added to local (µs) | Admissions per s | Rejected |");
        table.AppendLine("| --- | --- | --- | --- | --- | --- | --- |");
        foreach (FleetMode mode in Enum.GetValues<FleetMode>())
        {
            FleetResult[] runs = [.. results.Where(r => r.Mode == mode)];
            if (runs.Length == 0)
            {
                continue;
            }

            FleetResult[] local = [.. runs.Select(r => results.Single(l => l.Mode == FleetMode.Local && l.Repetition == r.Repetition))];
            double[] added50 = [.. runs.Select((r, i) => r.P50Microseconds - local[i].P50Microseconds)];
            double[] added99 = [.. runs.Select((r, i) => r.P99Microseconds - local[i].P99Microseconds)];
            table.AppendLine(string.Create(CultureInfo.InvariantCulture,
                $"| {Describe(mode)} | {ModeSummary.Range([.. runs.Select(r => r.RoundTripsPerAdmission)], format: "F3")} | {ModeSummary.Range([.. runs.Select(r => r.P50Microseconds)], format: "F1")} | {ModeSummary.Range([.. runs.Select(r => r.P99Microseconds)], format: "F1")} | {(mode == FleetMode.Local ? "–" : $"{ModeSummary.Median(added50):F1} / {ModeSummary.Median(added99):F1}")} | {ModeSummary.Range([.. runs.Select(r => r.Admitted / r.Seconds)], format: "F0")} | {runs.Sum(r => r.Rejected)} |"));
        }

        return table.ToString();
    }


    /// <summary>A closed-loop client of one tenant on one replica: admit, hold the seat about a millisecond, free it.</summary>
    private sealed class Client(WorkloadClass api, string tenant)
    {
        public LongHistogram Latency { get; } = new(TimeSpan.FromSeconds(10).Ticks, 3);

        public long Admitted { get; private set; }

        public long Rejected { get; private set; }

        public async Task RunAsync(StrongBox<bool> measuring, CancellationToken cancellationToken)
        {
            await Task.Yield();
            while (!cancellationToken.IsCancellationRequested)
            {
                long start = Stopwatch.GetTimestamp();
                WorkloadLease lease = await api.AcquireAsync(tenant, CancellationToken.None);
                long ticks = Stopwatch.GetElapsedTime(start).Ticks;
                bool measured = Volatile.Read(ref measuring.Value);
                if (measured)
                {
                    Latency.RecordValue(Math.Max(ticks, 1));
                }

                if (lease.IsAcquired)
                {
                    Admitted += measured ? 1 : 0;
                    await Task.Delay(1, CancellationToken.None);
                    lease.Dispose();
                }
                else
                {
                    Rejected += measured ? 1 : 0;
                    await Task.Delay(1, CancellationToken.None);
                }
            }
        }
    }
}

/// <summary>How the fleet benchmark's replicas hold their limits.</summary>
public enum FleetMode
{
    Local,
    FleetBatched,
    FleetPerAdmission,

    /// <summary>A class-wide fleet rate far below the demand: what refusals at the limit cost Redis.</summary>
    FleetAtTheLimit,
}

/// <summary>One measured window of one mode.</summary>
public sealed record FleetResult(FleetMode Mode, int Repetition, long Admitted, long Rejected, long RoundTrips, double Seconds, double P50Microseconds, double P99Microseconds)
{
    public double RoundTripsPerAdmission => Admitted == 0 ? 0 : RoundTrips / (double)Admitted;
}
