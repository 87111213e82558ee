using System.Diagnostics;
using System.Globalization;
using StackExchange.Redis;
using Xunit.Abstractions;

namespace Bulkhead.Redis.Tests;

/// <summary>
/// Three replicas, each through a TCP proxy of its own to one real redis-server, run work under a fleet cap of 8 while
/// the test does to Redis what production does: kills it and starts it again empty, slows it (DEBUG SLEEP), cuts one
/// replica off for longer than a lease, and flushes it. Every unit of work counts itself in and out of one meter, which
/// keeps the peak and the time spent above the cap, phase by phase. Strict never goes above the cap; the local share
/// never goes above its stated bound. The figures in docs/fleet.md come from this test's output
/// (<c>--logger "console;verbosity=detailed"</c>).
/// </summary>
public sealed class FleetChaosTests(ITestOutputHelper output)
{
    private const int Cap = 8;
    private const int Replicas = 3;
    private const int WorkersPerReplica = 6;

    [RedisTheory]
    [InlineData(RedisFleetFallback.Strict)]
    [InlineData(RedisFleetFallback.LocalShare)]
    public async Task Chaos_SeatsInUseStayWithinTheFallbacksBound(RedisFleetFallback fallback)
    {
        // Strict: the cap. Local share: each replica runs at most the larger of what it ran when Redis went away and its
        // share, so the fleet at most cap + (replicas − 1) × ceil(cap / ExpectedReplicas) (docs/fleet.md).
        int bound = fallback == RedisFleetFallback.Strict ? Cap : Cap + ((Replicas - 1) * (int)Math.Ceiling((double)Cap / Replicas));
        await using RedisServer redis = await RedisServer.StartAsync();
        TcpProxy[] proxies = [.. Enumerable.Range(0, Replicas).Select(_ => TcpProxy.Start(redis.Port))];
        var meter = new SeatMeter(Cap);
        using var stop = new CancellationTokenSource();
        FleetReplica[] replicas = [.. proxies.Select(proxy => new FleetReplica(
            proxy.Configuration,
            o =>
            {
                o.TotalConcurrency = 64;
                o.AddClass("reports", c => c.Fleet = new() { MaxConcurrency = Cap });
            },
            f =>
            {
                f.Fallback = fallback;
                f.ExpectedReplicas = Replicas;
                f.BatchInterval = TimeSpan.FromMilliseconds(200);
                f.SeatLeaseTime = TimeSpan.FromSeconds(2);
                f.OperationTimeout = TimeSpan.FromMilliseconds(250);
                f.BreakDuration = TimeSpan.FromSeconds(1);
            }))];
        try
        {
            Task[] load = [.. replicas.SelectMany(replica => Enumerable.Range(0, WorkersPerReplica).Select(_ => Task.Run(async () =>
            {
                WorkloadClass reports = replica.Scheduler.GetClass("reports");
                while (!stop.IsCancellationRequested)
                {
                    WorkloadLease lease = await reports.AcquireAsync();
                    if (!lease.IsAcquired)
                    {
                        meter.Refused();
                        await Task.Delay(2);
                        continue;
                    }

                    // Counted in once granted and out before the seat goes back: the meter never sees more than ran.
                    meter.Enter();
                    await Task.Delay(5);
                    meter.Exit();
                    lease.Dispose();
                }
            })))];

            await meter.PhaseAsync("steady", () => Task.Delay(TimeSpan.FromSeconds(2)));
            await meter.PhaseAsync("Redis killed for 3 s", async () =>
            {
                await redis.StopAsync();
                await Task.Delay(TimeSpan.FromSeconds(3));
                await redis.StartAgainAsync();
            });
            await meter.PhaseAsync("Redis back, empty", () => Task.Delay(TimeSpan.FromSeconds(4)));
            await meter.PhaseAsync("Redis slowed (DEBUG SLEEP 1 s, twice)", async () =>
            {
                for (int i = 0; i < 2; i++)
                {
                    await AdminAsync(redis, server => server.ExecuteAsync("DEBUG", "SLEEP", "1"));
                    await Task.Delay(TimeSpan.FromSeconds(1));
                }
            });
            await meter.PhaseAsync("one replica cut off for 5 s (over 2 leases)", async () =>
            {
                proxies[0].Cut();
                await Task.Delay(TimeSpan.FromSeconds(5));
                proxies[0].Restore();
            });
            await meter.PhaseAsync("it reconnects", () => Task.Delay(TimeSpan.FromSeconds(3)));
            await meter.PhaseAsync("Redis flushed (lost state)", async () =>
            {
                await AdminAsync(redis, server => server.FlushAllDatabasesAsync());
                await Task.Delay(TimeSpan.FromSeconds(3));
            });

            await stop.CancelAsync();
            await Task.WhenAll(load).WithTimeout();
        }
        finally
        {
            await stop.CancelAsync();
            foreach (FleetReplica replica in replicas)
            {
                await replica.DisposeAsync();
            }

            foreach (TcpProxy proxy in proxies)
            {
                await proxy.DisposeAsync();
            }
        }

        output.WriteLine($"{fallback}: fleet cap {Cap}, {Replicas} replicas × {WorkersPerReplica} workers, bound {bound}");
        foreach (SeatMeter.Phase phase in meter.Phases)
        {
            output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {phase.Name,-45} max {phase.Max,2} in use, {phase.SecondsAboveCap,5:F2} s above the cap, {phase.MeanUse(Cap),4:P0} of the cap in use on average, {phase.Admitted,6} admitted, {phase.Refused,6} refused"));
        }

        Assert.All(meter.Phases, phase => Assert.True(phase.Max <= bound, $"{fallback}, {phase.Name}: {phase.Max} in use, above the bound {bound}."));
        Assert.True(meter.Phases[0].Admitted > 0, "Work ran before the chaos began.");
        Assert.True(meter.Phases[^1].Admitted > 0, "Work runs again after the chaos.");
    }

    private static async Task AdminAsync(RedisServer redis, Func<IServer, Task> command)
    {
        using ConnectionMultiplexer admin = await ConnectionMultiplexer.ConnectAsync($"{redis.Configuration},allowAdmin=true,syncTimeout=5000,asyncTimeout=5000");
        await command(admin.GetServer(redis.Configuration));
    }

    /// <summary>Work in flight across the replicas: its peak and the time spent above the cap, by phase.</summary>
    private sealed class SeatMeter(int cap)
    {
        private readonly Lock _lock = new();
        private readonly List<Phase> _phases = [];
        private readonly Stopwatch _clock = Stopwatch.StartNew();
        private Phase _current = new("(start)");
        private int _inUse;
        private TimeSpan _aboveSince;
        private TimeSpan _changed;

        public List<Phase> Phases => _phases;

        public void Enter()
        {
            lock (_lock)
            {
                Integrate();
                _inUse++;
                _current.Admitted++;
                _current.Max = Math.Max(_current.Max, _inUse);
                if (_inUse == cap + 1)
                {
                    _aboveSince = _clock.Elapsed;
                }
            }
        }

        public void Exit()
        {
            lock (_lock)
            {
                if (_inUse == cap + 1)
                {
                    _current.SecondsAboveCap += (_clock.Elapsed - _aboveSince).TotalSeconds;
                }

                Integrate();
                _inUse--;
            }
        }

        public void Refused()
        {
            lock (_lock)
            {
                _current.Refused++;
            }
        }

        public async Task PhaseAsync(string name, Func<Task> run)
        {
            lock (_lock)
            {
                // Time above the cap counts in the phase where it happened; what is in use carries over as its start.
                if (_inUse > cap)
                {
                    _current.SecondsAboveCap += (_clock.Elapsed - _aboveSince).TotalSeconds;
                    _aboveSince = _clock.Elapsed;
                }

                Integrate();
                _current = new Phase(name) { Max = _inUse };
                _phases.Add(_current);
            }

            await run();
        }

        /// <summary>Adds the seat-seconds since the last change to the phase: its mean use of the cap.</summary>
        private void Integrate()
        {
            TimeSpan now = _clock.Elapsed;
            _current.SeatSeconds += _inUse * (now - _changed).TotalSeconds;
            _current.Seconds += (now - _changed).TotalSeconds;
            _changed = now;
        }

        public sealed class Phase(string name)
        {
            public double SeatSeconds { get; set; }

            public double Seconds { get; set; }

            public double MeanUse(int cap) => Seconds > 0 ? SeatSeconds / Seconds / cap : 0;

            public string Name { get; } = name;

            public int Max { get; set; }

            public double SecondsAboveCap { get; set; }

            public long Admitted { get; set; }

            public long Refused { get; set; }
        }
    }
}
