using System.Diagnostics;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace Bulkhead.Redis.Tests;

/// <summary>
/// Three replicas (own service providers, own multiplexers) against one real redis-server. Real time: Redis keeps its
/// own clock, so the assertions are bounds that hold however slowly the machine runs, never speeds.
/// </summary>
public sealed class FleetLimitsTests
{
    private const int Replicas = 3;

    [RedisFact]
    public async Task FleetRate_UnevenLoadOnThreeReplicas_StaysWithinTheStatedBoundOfTheQuota()
    {
        await using RedisServer redis = await RedisServer.StartAsync();
        const double Rate = 200;
        const int Burst = 20;
        const int MaxBatch = 8;
        await FleetReplica.WithReplicasAsync(
            Replicas,
            redis.Configuration,
            o => o.AddClass("api", c => c.Fleet = new() { RateLimit = new() { PermitsPerSecond = Rate, Burst = Burst, PerPartition = true } }),
            f => f.MaxBatchSize = MaxBatch,
            async replicas =>
            {
                // Uneven: the replicas run 6, 3 and 1 clients of the same tenant, each as fast as it is answered.
                int[] clients = [6, 3, 1];
                long[] admitted = new long[Replicas];
                using var stop = new CancellationTokenSource();
                var clock = Stopwatch.StartNew();
                Task[] load = [.. Enumerable.Range(0, Replicas).SelectMany(r => Enumerable.Range(0, clients[r]).Select(_ => Task.Run(async () =>
                {
                    WorkloadClass api = replicas[r].Scheduler.GetClass("api");
                    while (!stop.IsCancellationRequested)
                    {
                        WorkloadLease lease = await api.AcquireAsync("tenant-1");
                        if (lease.IsAcquired)
                        {
                            Interlocked.Increment(ref admitted[r]);
                            lease.Dispose();
                        }
                        else
                        {
                            Assert.Equal(WorkloadRejectionReason.RateLimited, lease.RejectionReason);
                            await Task.Delay(1);
                        }
                    }
                })))];
                await Task.Delay(TimeSpan.FromSeconds(2));
                await stop.CancelAsync();
                await Task.WhenAll(load).WithTimeout();
                double seconds = clock.Elapsed.TotalSeconds;

                // Every permit was taken from the one bucket between the start and now, and a replica holds at most
                // MaxBatch unused: admitted ≤ burst + rate × elapsed + replicas × MaxBatch (docs/fleet.md). Three local
                // buckets would admit about three times the rate.
                long total = admitted.Sum();
                double bound = Burst + (Rate * seconds) + (Replicas * MaxBatch);
                Assert.True(total <= bound, $"The fleet admitted {total} in {seconds:F2} s; the bound is {bound:F0} ({string.Join(", ", admitted)} by replica).");
                Assert.True(total >= Burst, $"The fleet admitted {total}, less than one burst.");
                Assert.All(replicas, r => Assert.Equal(WorkloadFleetState.Coordinated, r.FleetState("api")));
            });
    }

    [RedisFact]
    public async Task FleetConcurrencyCap_OfEight_IsNeverExceededAcrossThreeReplicasThatWouldEachAllowEight()
    {
        await using RedisServer redis = await RedisServer.StartAsync();
        await FleetReplica.WithReplicasAsync(
            Replicas,
            redis.Configuration,
            o => o.AddClass("reports", c =>
            {
                c.MaxConcurrency = 8;
                c.Fleet = new() { MaxConcurrency = 8 };
            }),
            f => f.BatchInterval = TimeSpan.FromMilliseconds(20),
            async replicas =>
            {
                int current = 0;
                int peak = 0;
                long[] admitted = new long[Replicas];
                using var stop = new CancellationTokenSource();
                Task[] load = [.. Enumerable.Range(0, Replicas).SelectMany(r => Enumerable.Range(0, 8).Select(_ => Task.Run(async () =>
                {
                    WorkloadClass reports = replicas[r].Scheduler.GetClass("reports");
                    while (!stop.IsCancellationRequested)
                    {
                        WorkloadLease lease = await reports.AcquireAsync();
                        if (!lease.IsAcquired)
                        {
                            await Task.Delay(1);
                            continue;
                        }

                        using (lease)
                        {
                            InterlockedMax.Raise(ref peak, Interlocked.Increment(ref current));
                            Interlocked.Increment(ref admitted[r]);
                            await Task.Delay(2);
                            Interlocked.Decrement(ref current);
                        }
                    }
                })))];

                // Sampled continuously, besides the peak each unit of work records as it starts.
                var sampler = Task.Run(async () =>
                {
                    while (!stop.IsCancellationRequested)
                    {
                        Assert.InRange(Volatile.Read(ref current), 0, 8);
                        await Task.Yield();
                    }
                });
                await Task.Delay(TimeSpan.FromSeconds(2));
                await stop.CancelAsync();
                await Task.WhenAll([.. load, sampler]).WithTimeout();

                Assert.InRange(peak, 1, 8);
                Assert.All(admitted, a => Assert.True(a > 0, $"Every replica gets seats as they move to the demand ({string.Join(", ", admitted)})."));
            });
    }

    [RedisFact]
    public async Task CrashedReplica_ItsSeatsComeBackAfterTheLeaseTime()
    {
        await using RedisServer redis = await RedisServer.StartAsync();
        Action<WorkloadIsolationOptions> isolation = o => o.AddClass("reports", c => c.Fleet = new() { MaxConcurrency = 4 });
        Action<RedisFleetOptions> fleet = f => f.SeatLeaseTime = TimeSpan.FromSeconds(3);
        await using var survivor = new FleetReplica(redis.Configuration, isolation, fleet);
        var doomed = new FleetReplica(redis.Configuration, isolation, fleet);
        WorkloadClass reports = doomed.Scheduler.GetClass("reports");
        for (int i = 0; i < 4; i++)
        {
            Assert.True((await reports.AcquireAsync().WithTimeout()).IsAcquired);
        }

        await doomed.CrashAsync();

        // At once, the four seats are still the crashed replica's: the survivor is refused.
        WorkloadLease refused = await survivor.Scheduler.GetClass("reports").AcquireAsync().WithTimeout();
        Assert.Equal(WorkloadRejectionReason.RateLimited, refused.RejectionReason);

        // After the lease time, they come back by themselves: the survivor holds all four.
        List<WorkloadLease> held = await AcquireEventuallyAsync(survivor.Scheduler.GetClass("reports"), 4, "the crashed replica's seats come back");
        Assert.False((await survivor.Scheduler.GetClass("reports").AcquireAsync().WithTimeout()).IsAcquired);
        held.ForEach(l => l.Dispose());
    }

    [RedisFact]
    public async Task RedisStopsAndStartsAgain_WorkGoesOnUnderTheLocalShareWithoutWaiting_ThenFleetLimitsResume()
    {
        await using RedisServer redis = await RedisServer.StartAsync();
        await using var replica = new FleetReplica(
            redis.Configuration,
            o => o.AddClass("reports", c => c.Fleet = new() { MaxConcurrency = 4 }),
            f =>
            {
                f.ExpectedReplicas = 2;
                f.BreakDuration = TimeSpan.FromSeconds(1);
            });
        using var operations = new MetricCollector<long>(replica.Meters, WorkloadIsolationTelemetry.MeterName, "bulkhead.fleet.operations");
        WorkloadClass reports = replica.Scheduler.GetClass("reports");
        (await reports.AcquireAsync().WithTimeout()).Dispose();
        Assert.Equal(WorkloadFleetState.Coordinated, replica.FleetState("reports"));
        Assert.Contains(operations.GetMeasurementSnapshot(), m => (string?)m.Tags["bulkhead.fleet.result"] == "ok");

        await redis.StopAsync();

        // The first operations fail (fast: the connection is gone) and open the breaker.
        await BreakerOpensAsync(replica, WorkloadFleetState.LocalShare);
        Assert.Contains(replica.Logs.Messages, m => m.Level == LogLevel.Warning && m.Message.Contains("Redis is unreachable", StringComparison.Ordinal));
        Assert.Contains(operations.GetMeasurementSnapshot(), m => (string?)m.Tags["bulkhead.fleet.result"] == "failed");

        // Under the local share (4 seats over 2 replicas: 2), answered without a network call: synchronously.
        WorkloadLease[] local = [.. Enumerable.Range(0, 3).Select(_ => AcquireSynchronously(reports))];
        Assert.True(local[0].IsAcquired && local[1].IsAcquired);
        Assert.Equal(WorkloadRejectionReason.RateLimited, local[2].RejectionReason);
        local[0].Dispose();
        local[1].Dispose();

        await redis.StartAgainAsync();
        await Eventually.TrueAsync(() => replica.FleetState("reports") == WorkloadFleetState.Coordinated, "the replica uses Redis again", TimeSpan.FromSeconds(15));
        Assert.Contains(replica.Logs.Messages, m => m.Level == LogLevel.Information && m.Message.Contains("Redis answers again", StringComparison.Ordinal));

        // The fleet cap (4) holds again, not the local share (2), once the recovery window of the server that came
        // back empty has passed.
        List<WorkloadLease> held = await AcquireEventuallyAsync(reports, 4, "the fleet cap is there again");
        Assert.Equal(WorkloadRejectionReason.RateLimited, (await reports.AcquireAsync().WithTimeout()).RejectionReason);
        held.ForEach(l => l.Dispose());
    }

    [RedisFact]
    public async Task RedisGoesDown_SeatsStillLeasedCountAgainstTheLocalShare()
    {
        // A replica running two seats leased from Redis once added its whole local share on top when Redis went down
        // (peak 9 against a fleet cap of 8 with three replicas).
        await using RedisServer redis = await RedisServer.StartAsync();
        await using var replica = new FleetReplica(
            redis.Configuration,
            o => o.AddClass("reports", c => c.Fleet = new() { MaxConcurrency = 4 }),
            f => f.ExpectedReplicas = 2);
        WorkloadClass reports = replica.Scheduler.GetClass("reports");
        WorkloadLease[] leased = [await reports.AcquireAsync().WithTimeout(), await reports.AcquireAsync().WithTimeout()];
        Assert.All(leased, l => Assert.True(l.IsAcquired));

        await redis.StopAsync();
        await BreakerOpensAsync(replica, WorkloadFleetState.LocalShare);

        // The share is 2 (4 over 2 replicas), and both are in use under the old leases: nothing more.
        WorkloadLease refused = AcquireSynchronously(reports);
        Assert.Equal(WorkloadRejectionReason.RateLimited, refused.RejectionReason);

        // As the leased work ends, the share's seats become usable, and no more than the share.
        leased[0].Dispose();
        leased[1].Dispose();
        WorkloadLease[] local = [.. Enumerable.Range(0, 3).Select(_ => AcquireSynchronously(reports))];
        Assert.Equal([true, true, false], local.Select(l => l.IsAcquired));
        Array.ForEach(local, l => l.Dispose());
    }

    [RedisFact]
    public async Task RedisCutOffThenBack_SeatsTakenUnderTheLocalShareAreClaimedInRedisBeforeAnyMore()
    {
        // The other direction: a replica ran two seats leased from Redis and two more under the local share while it was
        // cut off; when Redis answered again it counted only the two leased ones, grew by one and ran 5 of a cap of 4,
        // and a second replica got the two seats Redis thought free (CI: CrashedReplica_… saw the fifth after a breaker
        // trip on a busy machine).
        await using RedisServer redis = await RedisServer.StartAsync();
        await using var proxy = TcpProxy.Start(redis.Port);
        Action<WorkloadIsolationOptions> isolation = o => o.AddClass("reports", c => c.Fleet = new() { MaxConcurrency = 4 });
        await using var cutOff = new FleetReplica(proxy.Configuration, isolation, f => f.BreakDuration = TimeSpan.FromMinutes(2));
        await using var other = new FleetReplica(redis.Configuration, isolation);
        WorkloadClass reports = cutOff.Scheduler.GetClass("reports");
        List<WorkloadLease> held = [await reports.AcquireAsync().WithTimeout(), await reports.AcquireAsync().WithTimeout()];
        Assert.All(held, l => Assert.True(l.IsAcquired));

        proxy.Cut();
        await BreakerOpensAsync(cutOff, WorkloadFleetState.LocalShare);

        // The local share with one expected replica is the whole cap: two more beside the two leased.
        held.Add(AcquireSynchronously(reports));
        held.Add(AcquireSynchronously(reports));
        Assert.All(held, l => Assert.True(l.IsAcquired));
        Assert.False(AcquireSynchronously(reports).IsAcquired);

        proxy.Restore();
        await Eventually.TrueAsync(() => cutOff.FleetState("reports") == WorkloadFleetState.Coordinated, "the replica uses Redis again", TimeSpan.FromSeconds(20));

        // Four run here: Redis must count all four for this replica before it admits a fifth or gives one elsewhere.
        Assert.Equal(WorkloadRejectionReason.RateLimited, (await reports.AcquireAsync().WithTimeout()).RejectionReason);
        Assert.Equal(WorkloadRejectionReason.RateLimited, (await other.Scheduler.GetClass("reports").AcquireAsync().WithTimeout()).RejectionReason);

        held.ForEach(l => l.Dispose());
        await AcquireEventuallyAsync(other.Scheduler.GetClass("reports"), 4, "the seats move once the work ends");
    }

    [RedisFact]
    public async Task RedisLosesItsState_HoldersReRegisterTheSeatsTheyRunBeforeAnyoneTakesNewOnes()
    {
        // Redis flushed (as a restart without persistence or a failover would) while one replica ran all 4 seats of the
        // cap: the next replica to ask was given 4 more (8 in use), and the first was told only "a pause longer than
        // SeatLeaseTime?". The holder here is also slow to renew (held behind a proxy the test owns), the worst case.
        await using RedisServer redis = await RedisServer.StartAsync();
        await using var proxy = TcpProxy.Start(redis.Port);
        Action<WorkloadIsolationOptions> isolation = o => o.AddClass("reports", c => c.Fleet = new() { MaxConcurrency = 4 });
        Action<RedisFleetOptions> fleet = f =>
        {
            f.ExpectedReplicas = 2;
            f.BatchInterval = TimeSpan.FromSeconds(3);
            f.SeatLeaseTime = TimeSpan.FromSeconds(30);
        };
        await using var holder = new FleetReplica(proxy.Configuration, isolation, fleet);
        await using var other = new FleetReplica(redis.Configuration, isolation, fleet);
        WorkloadClass holderReports = holder.Scheduler.GetClass("reports");
        WorkloadClass otherReports = other.Scheduler.GetClass("reports");
        List<WorkloadLease> held = [];
        for (int i = 0; i < 4; i++)
        {
            held.Add(await holderReports.AcquireAsync().WithTimeout());
        }

        Assert.All(held, l => Assert.True(l.IsAcquired));
        Assert.Equal(WorkloadRejectionReason.RateLimited, (await otherReports.AcquireAsync().WithTimeout()).RejectionReason);

        proxy.Hold();
        using (ConnectionMultiplexer admin = await ConnectionMultiplexer.ConnectAsync(redis.Configuration + ",allowAdmin=true"))
        {
            await admin.GetServer(redis.Configuration).FlushAllDatabasesAsync();
        }

        // Past the other replica's refusal (it asks Redis again only a batch interval after one).
        await Task.Delay(TimeSpan.FromSeconds(3.5));
        Assert.Equal(WorkloadRejectionReason.RateLimited, (await otherReports.AcquireAsync().WithTimeout()).RejectionReason);

        proxy.Restore();
        await Eventually.TrueAsync(
            () => holder.Logs.Messages.Any(m => m.Message.Contains("Redis lost the state of fleet seats", StringComparison.Ordinal)),
            "the holder re-registers the seats it runs and says Redis lost its state",
            TimeSpan.FromSeconds(20));
        Assert.DoesNotContain(holder.Logs.Messages, m => m.Message.Contains("SeatLeaseTime", StringComparison.Ordinal));
        await Task.Delay(TimeSpan.FromSeconds(3.5));
        Assert.Equal(WorkloadRejectionReason.RateLimited, (await otherReports.AcquireAsync().WithTimeout()).RejectionReason);

        held.ForEach(l => l.Dispose());
        (await AcquireEventuallyAsync(otherReports, 4, "the seats move once the work ends")).ForEach(l => l.Dispose());
    }

    [RedisFact]
    public async Task Strict_CutOff_RunsOnlyOnTheSeatsItHolds_ForHalfTheirLease_ThenTheOthersHaveThem()
    {
        await using RedisServer redis = await RedisServer.StartAsync();
        await using var proxy = TcpProxy.Start(redis.Port);
        Action<WorkloadIsolationOptions> isolation = o => o.AddClass("reports", c => c.Fleet = new() { MaxConcurrency = 4 });
        Action<RedisFleetOptions> fleet = f =>
        {
            f.Fallback = RedisFleetFallback.Strict;
            f.BatchInterval = TimeSpan.FromSeconds(1);
            f.SeatLeaseTime = TimeSpan.FromSeconds(6);
            f.BreakDuration = TimeSpan.FromMinutes(2);
        };
        await using var cutOff = new FleetReplica(proxy.Configuration, isolation, fleet);
        await using var other = new FleetReplica(redis.Configuration, isolation, fleet);
        WorkloadClass reports = cutOff.Scheduler.GetClass("reports");
        WorkloadClass otherReports = other.Scheduler.GetClass("reports");

        // Two seats held and in use here, two by the other replica. Both stay in use until Redis is cut off: a seat
        // freed before that would go back to Redis at the next renewal, however soon a busy machine makes it come.
        WorkloadLease running = await reports.AcquireAsync().WithTimeout();
        WorkloadLease second = await reports.AcquireAsync().WithTimeout();
        Assert.True(running.IsAcquired && second.IsAcquired);
        List<WorkloadLease> elsewhere = await AcquireEventuallyAsync(otherReports, 2, "the other replica takes the two seats left");

        proxy.Cut();
        await BreakerOpensAsync(cutOff, WorkloadFleetState.Strict);
        await Eventually.TrueAsync(
            () => cutOff.Logs.Messages.Any(m => m.Level == LogLevel.Warning && m.Message.Contains("now Strict", StringComparison.Ordinal)),
            "the replica says it runs strict",
            TimeSpan.FromSeconds(5));

        // Cut off, it runs on the seats it holds (two), never more: no local share. A seat freed now is still its own.
        Assert.Equal(WorkloadRejectionReason.RateLimited, AcquireSynchronously(reports).RejectionReason);
        second.Dispose();
        WorkloadLease held = AcquireSynchronously(reports);
        Assert.True(held.IsAcquired);
        WorkloadLease refused = AcquireSynchronously(reports);
        Assert.Equal(WorkloadRejectionReason.RateLimited, refused.RejectionReason);
        held.Dispose();

        // Once half its lease has passed (by its own clock, from before Redis started it: at most 3 s after the cut), not
        // even on those: work started on them has the other half to end, and then Redis may give them to the other
        // replica, which takes them as soon as they are free in Redis.
        running.Dispose();
        await Task.Delay(TimeSpan.FromSeconds(4.5));
        Assert.Equal(WorkloadRejectionReason.RateLimited, AcquireSynchronously(reports).RejectionReason);
        elsewhere.AddRange(await AcquireEventuallyAsync(otherReports, 2, "the cut-off replica's seats come back to the fleet"));
        Assert.Equal(4, elsewhere.Count);
        elsewhere.ForEach(l => l.Dispose());
    }

    [RedisFact]
    public async Task Strict_CutOff_WorkStartedOnAHeldSeat_HasHalfALeaseToEnd_BeforeRedisCanGiveThatSeatToAnother()
    {
        // The fleet chaos test once saw 10 seats in use under a Strict cap of 8 while a replica was cut off: the replica
        // started work on its held seats until the very end of their lease, and Redis gave them to another replica while
        // that work still ran. A seat is used only in the first half of its lease, so that work started on it has the
        // other half to end before Redis may give it to another.
        await using RedisServer redis = await RedisServer.StartAsync();
        await using var proxy = TcpProxy.Start(redis.Port);
        Action<WorkloadIsolationOptions> isolation = o => o.AddClass("reports", c => c.Fleet = new() { MaxConcurrency = 2 });
        TimeSpan lease = TimeSpan.FromSeconds(4);
        Action<RedisFleetOptions> fleet = f =>
        {
            f.Fallback = RedisFleetFallback.Strict;
            f.BatchInterval = TimeSpan.FromMilliseconds(200);
            f.SeatLeaseTime = lease;
            f.BreakDuration = TimeSpan.FromMinutes(2);
        };
        await using var cutOff = new FleetReplica(proxy.Configuration, isolation, fleet);
        await using var other = new FleetReplica(redis.Configuration, isolation, fleet);
        WorkloadClass reports = cutOff.Scheduler.GetClass("reports");
        WorkloadClass otherReports = other.Scheduler.GetClass("reports");

        // Every seat in use across the fleet, counted in once granted and out before it goes back.
        var meter = new Lock();
        int inUse = 0;
        int peak = 0;
        void Count(int change)
        {
            lock (meter)
            {
                inUse += change;
                peak = Math.Max(peak, inUse);
            }
        }

        // Two workers keep both seats of the cap busy here with short work (a replica keeps the seats it uses), before
        // and after the cut, for as long as it admits them.
        var sinceCut = Stopwatch.StartNew();
        using var stop = new CancellationTokenSource();
        Task[] busy = [.. Enumerable.Range(0, 2).Select(_ => Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                WorkloadLease lease = await reports.AcquireAsync().WithTimeout();
                if (lease.IsAcquired)
                {
                    Count(+1);
                    await Task.Delay(10);
                    Count(-1);
                    lease.Dispose();
                }

                await Task.Delay(5);
            }
        }))];
        await Eventually.TrueAsync(() => Volatile.Read(ref peak) == 2, "both seats in use here", TimeSpan.FromSeconds(10));
        proxy.Cut();
        sinceCut.Restart();

        // The other replica asks for seats all along and keeps what it is given; Redis frees the cut-off replica's seats
        // a lease after its last renewal, sent at most a batch interval before the cut.
        List<WorkloadLease> elsewhere = [];
        Task taking = Task.Run(async () =>
        {
            while (elsewhere.Count < 2 && sinceCut.Elapsed < TimeSpan.FromSeconds(9))
            {
                WorkloadLease lease = await otherReports.AcquireAsync().WithTimeout();
                if (lease.IsAcquired)
                {
                    Count(+1);
                    elsewhere.Add(lease);
                }
                else
                {
                    await Task.Delay(20);
                }
            }
        });

        // Past half its lease (by its own clock, from before the last renewal was sent: at most 2.0 s after the cut) and
        // before its end (at least 3.8 s after the cut), work that runs half a lease asks for one of the held seats.
        // It asks at least once, however late a busy machine wakes it: a refusal is owed at any time past half the lease.
        TimeSpan wait = TimeSpan.FromSeconds(2.5) - sinceCut.Elapsed;
        await Task.Delay(wait > TimeSpan.Zero ? wait : TimeSpan.Zero);
        WorkloadLease late;
        do
        {
            late = await reports.AcquireAsync().WithTimeout();
            await Task.Delay(late.IsAcquired ? TimeSpan.Zero : TimeSpan.FromMilliseconds(2));
        }
        while (!late.IsAcquired && sinceCut.Elapsed < TimeSpan.FromSeconds(3));

        TimeSpan lateAt = sinceCut.Elapsed;
        if (late.IsAcquired)
        {
            Count(+1);
            await Task.Delay(lease / 2);
            Count(-1);
            late.Dispose();
        }

        await taking.WithTimeout();
        await stop.CancelAsync();
        await Task.WhenAll(busy).WithTimeout();
        Assert.False(late.IsAcquired, $"the cut-off replica started work on a held seat {lateAt.TotalSeconds:F1} s after the cut, past half the seat's lease.");
        Assert.Equal(2, elsewhere.Count);
        Assert.True(peak <= 2, $"{peak} seats in use under a fleet cap of 2: the cut-off replica started work on a held seat {lateAt.TotalSeconds:F1} s after the cut, and Redis gave its seats to the other replica while that work ran.");
        Assert.Equal(WorkloadRejectionReason.RateLimited, late.RejectionReason);
        elsewhere.ForEach(l => l.Dispose());
    }

    [RedisFact]
    public async Task FleetRateAtItsLimit_AReplicaAsksRedisWhenABatchCanCome_NotEveryMaintenanceTick()
    {
        // At the limit the replica's permit stock is empty, and maintenance forgot empty stocks, with the time Redis
        // had said to ask again: the next admission asked at once, every tick (4 round trips a second per replica at
        // BatchInterval 500 ms; here 20 at 100 ms, about two per admission).
        await using RedisServer redis = await RedisServer.StartAsync();
        await using var replica = new FleetReplica(
            redis.Configuration,
            o => o.AddClass("api", c => c.Fleet = new() { RateLimit = new() { PermitsPerSecond = 10, Burst = 10 } }),
            f => f.BatchInterval = TimeSpan.FromMilliseconds(100));
        WorkloadClass api = replica.Scheduler.GetClass("api");
        using ConnectionMultiplexer admin = await ConnectionMultiplexer.ConnectAsync(redis.Configuration + ",allowAdmin=true");
        IServer server = admin.GetServer(redis.Configuration);

        // The burst goes first; then the bucket gives 10 a second, and the client asks for many times that.
        long admitted = 0;
        var clock = Stopwatch.StartNew();
        bool counting = false;
        while (clock.Elapsed < TimeSpan.FromSeconds(3))
        {
            if (!counting && clock.Elapsed > TimeSpan.FromSeconds(1))
            {
                await server.ExecuteAsync("CONFIG", "RESETSTAT");
                admitted = 0;
                counting = true;
            }

            using WorkloadLease lease = await api.AcquireAsync().WithTimeout();
            if (lease.IsAcquired)
            {
                admitted++;
            }
            else
            {
                await Task.Delay(1);
            }
        }

        string stats = string.Join('\n', (await server.InfoAsync("commandstats")).SelectMany(g => g).Select(p => $"{p.Key}:{p.Value}"));
        long scripts = System.Text.RegularExpressions.Regex.Matches(stats, @"cmdstat_eval(?:sha)?:calls=(\d+)").Sum(m => long.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture));
        Assert.True(admitted > 0, "The bucket gives permits at its rate.");
        Assert.True(scripts * 2 <= admitted, $"{scripts} round trips for {admitted} admissions at the limit: a replica asks again only when Redis said a batch can come.");
    }

    [RedisFact]
    public async Task FleetRateBelowItsLimit_NoReplicaHoldsSoMuchOfTheBurstThatAnotherIsRefused()
    {
        // Three replicas at 15 a second each against a fleet rate of 60 (burst 20): below the limit, nothing may be
        // refused. Each replica sized its batch to half a second of its demand (8) and held it, 24 between them, more
        // than the burst, so one found the bucket empty and returned 429s (17-20 % of requests, 3 runs of 3).
        await using RedisServer redis = await RedisServer.StartAsync();
        await FleetReplica.WithReplicasAsync(
            Replicas,
            redis.Configuration,
            o => o.AddClass("api", c => c.Fleet = new() { RateLimit = new() { PermitsPerSecond = 60, Burst = 20 } }),
            f => f.ExpectedReplicas = Replicas,
            async replicas =>
            {
                long admitted = 0;
                long refused = 0;
                using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(3));
                Task[] clients = [.. replicas.Select(replica => Task.Run(async () =>
                {
                    WorkloadClass api = replica.Scheduler.GetClass("api");
                    using var pace = new PeriodicTimer(TimeSpan.FromMilliseconds(1000.0 / 15));
                    while (await pace.WaitForNextTickAsync(CancellationToken.None) && !stop.IsCancellationRequested)
                    {
                        using WorkloadLease lease = await api.AcquireAsync();
                        Interlocked.Increment(ref lease.IsAcquired ? ref admitted : ref refused);
                    }
                }))];
                await Task.WhenAll(clients).WithTimeout();

                Assert.True(admitted > 0, "Work was admitted.");
                Assert.True(refused == 0, $"{refused} of {admitted + refused} refused below the fleet rate.");
            });
    }

    [RedisFact]
    public async Task FleetCapRefusal_RetryAfterIsWhenThisReplicaAsksRedisAgain()
    {
        // A seat refusal said "a batch interval" whatever the state: the same 500 ms (an HTTP Retry-After of 1) right
        // after Redis refused and just before the replica would ask again.
        await using RedisServer redis = await RedisServer.StartAsync();
        Action<WorkloadIsolationOptions> isolation = o => o.AddClass("reports", c => c.Fleet = new() { MaxConcurrency = 2 });
        Action<RedisFleetOptions> fleet = f =>
        {
            f.BatchInterval = TimeSpan.FromSeconds(3);
            f.SeatLeaseTime = TimeSpan.FromSeconds(30);
        };
        await using var holder = new FleetReplica(redis.Configuration, isolation, fleet);
        await using var other = new FleetReplica(redis.Configuration, isolation, fleet);
        List<WorkloadLease> held = await AcquireEventuallyAsync(holder.Scheduler.GetClass("reports"), 2, "the holder takes the cap");
        WorkloadClass reports = other.Scheduler.GetClass("reports");

        WorkloadLease first = await reports.AcquireAsync().WithTimeout();
        Assert.Equal(WorkloadRejectionReason.RateLimited, first.RejectionReason);
        await Task.Delay(TimeSpan.FromSeconds(1));
        WorkloadLease later = await reports.AcquireAsync().WithTimeout();
        Assert.Equal(WorkloadRejectionReason.RateLimited, later.RejectionReason);

        Assert.InRange(first.RetryAfter!.Value, TimeSpan.FromSeconds(1.5), TimeSpan.FromSeconds(3));
        Assert.InRange(later.RetryAfter!.Value, TimeSpan.FromMilliseconds(1), first.RetryAfter.Value - TimeSpan.FromSeconds(0.5));
        held.ForEach(l => l.Dispose());
    }

    [RedisFact]
    public async Task FailClosed_RedisDown_RejectsWorkUnderFleetLimitsWithARetryAfter()
    {
        await using RedisServer redis = await RedisServer.StartAsync();
        await using var replica = new FleetReplica(
            redis.Configuration,
            o => o.AddClass("reports", c => c.Fleet = new() { MaxConcurrency = 4 }).AddClass("interactive"),
            f => f.Fallback = RedisFleetFallback.FailClosed);
        await redis.StopAsync();
        WorkloadClass reports = replica.Scheduler.GetClass("reports");
        await BreakerOpensAsync(replica, WorkloadFleetState.Closed);

        // A class without fleet limits is untouched.
        using WorkloadLease interactive = await replica.Scheduler.GetClass("interactive").AcquireAsync().WithTimeout();
        Assert.True(interactive.IsAcquired);
        Assert.Null(replica.FleetState("interactive"));
    }

    [RedisFact]
    public async Task Reload_ChangingTheFleetCap_CountsSeatsHeldUnderTheOldCapUntilTheirWorkEnds()
    {
        await using RedisServer redis = await RedisServer.StartAsync();
        await using var replica = new FleetReplica(redis.Configuration, o => o.AddClass("reports", c => c.Fleet = new() { MaxConcurrency = 4 }));
        WorkloadClass reports = replica.Scheduler.GetClass("reports");
        List<WorkloadLease> old = [];
        for (int i = 0; i < 3; i++)
        {
            old.Add(await reports.AcquireAsync().WithTimeout());
        }

        Assert.All(old, l => Assert.True(l.IsAcquired));

        // A reload lowers the cap to 2: the three seats in flight still count, so nothing more is admitted.
        var lowered = new WorkloadIsolationOptions { DefaultClass = "reports" }.AddClass("reports", c => c.Fleet = new() { MaxConcurrency = 2 });
        ((Bulkhead.Admission.Internal.WorkloadScheduler)replica.Scheduler).Apply(lowered);
        Assert.Equal(WorkloadRejectionReason.RateLimited, (await reports.AcquireAsync().WithTimeout()).RejectionReason);

        // When their work ends, the old limiter gives them back, and the new cap holds: two, not three.
        old.ForEach(l => l.Dispose());
        List<WorkloadLease> held = await AcquireEventuallyAsync(reports, 2, "the seats of the old cap come back");
        Assert.Equal(WorkloadRejectionReason.RateLimited, (await reports.AcquireAsync().WithTimeout()).RejectionReason);
        held.ForEach(l => l.Dispose());
    }

    [RedisFact]
    public async Task FleetCapPerPartition_HoldsForEachTenantAcrossReplicas_AndTenantsDoNotShareIt()
    {
        await using RedisServer redis = await RedisServer.StartAsync();
        Action<WorkloadIsolationOptions> isolation = o => o.AddClass("reports", c => c.Fleet = new() { MaxConcurrencyPerPartition = 2 });
        await using var first = new FleetReplica(redis.Configuration, isolation);
        await using var second = new FleetReplica(redis.Configuration, isolation);

        WorkloadLease a1 = await first.Scheduler.GetClass("reports").AcquireAsync("tenant-a").WithTimeout();
        WorkloadLease a2 = await second.Scheduler.GetClass("reports").AcquireAsync("tenant-a").WithTimeout();
        WorkloadLease a3 = await second.Scheduler.GetClass("reports").AcquireAsync("tenant-a").WithTimeout();
        WorkloadLease b1 = await first.Scheduler.GetClass("reports").AcquireAsync("tenant-b").WithTimeout();

        Assert.True(a1.IsAcquired && a2.IsAcquired && b1.IsAcquired);
        Assert.Equal(WorkloadRejectionReason.RateLimited, a3.RejectionReason);
        a1.Dispose();
        a2.Dispose();
        b1.Dispose();
    }

    [RedisFact]
    public async Task TryAcquire_NeverWaitsOnRedis_ButAsksForSeatsForTheNextCaller()
    {
        await using RedisServer redis = await RedisServer.StartAsync();
        await using var replica = new FleetReplica(redis.Configuration, o => o.AddClass("reports", c => c.Fleet = new() { MaxConcurrency = 2 }));
        WorkloadClass reports = replica.Scheduler.GetClass("reports");

        // No seat held yet: refused at once, and one is asked for.
        Assert.Equal(WorkloadRejectionReason.RateLimited, reports.TryAcquire().RejectionReason);
        WorkloadLease admitted = default;
        await Eventually.TrueAsync(() => (admitted = reports.TryAcquire()).IsAcquired, "a seat asked for in the background is held");
        admitted.Dispose();
    }

    [RedisFact]
    public async Task FleetRatePerClass_WithTheMultiplexerFromTheServiceCollection_SharesOneBucketAcrossReplicas()
    {
        await using RedisServer redis = await RedisServer.StartAsync();
        ServiceProvider[] replicas = [.. Enumerable.Range(0, 2).Select(_ =>
        {
            var services = new ServiceCollection();
            services.AddSingleton<IConnectionMultiplexer>(_ => ConnectionMultiplexer.Connect(redis.Configuration));
            services.AddWorkloadIsolation(o =>
            {
                o.DefaultClass = "api";
                o.AddClass("api", c => c.Fleet = new() { RateLimit = new() { PermitsPerSecond = 0.001, Burst = 5 } });
            }).AddRedisFleetLimits(f => f.MaxBatchSize = 1);
            return services.BuildServiceProvider();
        })];
        try
        {
            // A burst of 5 for the class, whichever replica asks: 5 admitted in all, then refused with a retry-after.
            int admitted = 0;
            for (int i = 0; i < 10; i++)
            {
                WorkloadLease lease = await replicas[i % 2].GetRequiredService<IWorkloadScheduler>().GetClass("api").AcquireAsync($"tenant-{i}").WithTimeout();
                admitted += lease.IsAcquired ? 1 : 0;
                Assert.True(lease.IsAcquired || lease.RetryAfter > TimeSpan.Zero);
                lease.Dispose();
            }

            Assert.Equal(5, admitted);
        }
        finally
        {
            foreach (ServiceProvider replica in replicas)
            {
                await replica.DisposeAsync();
            }
        }
    }

    [RedisFact]
    public async Task RedisNeverReachable_StartsAnyway_AndWorkGoesOnUnderTheLocalShare()
    {
        // A port where no server ever listened: the connection is made in the background and never succeeds.
        await using RedisServer redis = await RedisServer.StartAsync();
        await redis.StopAsync();
        await using var replica = new FleetReplica(redis.Configuration, o => o.AddClass("reports", c => c.Fleet = new() { MaxConcurrency = 4 }), f => f.ExpectedReplicas = 2);
        WorkloadClass reports = replica.Scheduler.GetClass("reports");

        await BreakerOpensAsync(replica, WorkloadFleetState.LocalShare);
        WorkloadLease[] local = [.. Enumerable.Range(0, 3).Select(_ => AcquireSynchronously(reports))];
        Assert.Equal([true, true, false], local.Select(l => l.IsAcquired));
        Array.ForEach(local, l => l.Dispose());
    }

    [RedisFact]
    public async Task RedisDownAtLowTraffic_TheSnapshotSaysLocalShareWithinFourRequests()
    {
        // One request every 1.5 s: the state the snapshot shows must be the one work is decided under, even when the
        // breaker's two-second window never holds enough operations (three failed operations in a row open it too).
        // Here the landed code passed as well (the seat stock's own operations filled its window); the field report of
        // Coordinated after eight failures was not reproduced.
        await using RedisServer redis = await RedisServer.StartAsync();
        await using var replica = new FleetReplica(redis.Configuration, o => o.AddClass("reports", c => c.Fleet = new() { MaxConcurrency = 4 }), f => f.ExpectedReplicas = 2);
        WorkloadClass reports = replica.Scheduler.GetClass("reports");
        (await reports.AcquireAsync().WithTimeout()).Dispose();
        await redis.StopAsync();

        for (int i = 0; i < Bulkhead.Redis.Internal.RedisFleetStore.FailuresInARowToBreak + 1 && replica.FleetState("reports") == WorkloadFleetState.Coordinated; i++)
        {
            await Task.Delay(TimeSpan.FromMilliseconds(1500));
            (await reports.AcquireAsync().WithTimeout()).Dispose();
        }

        Assert.Equal(WorkloadFleetState.LocalShare, replica.FleetState("reports"));
        Assert.Contains(replica.Logs.Messages, m => m.Level == LogLevel.Warning && m.Message.Contains("Redis is unreachable", StringComparison.Ordinal));
    }

    [RedisFact]
    public async Task RedisAnswersAgain_CoordinationResumesWithinATickNotABreakDurationLater()
    {
        await using RedisServer redis = await RedisServer.StartAsync();
        await using var replica = new FleetReplica(
            redis.Configuration,
            o => o.AddClass("reports", c => c.Fleet = new() { MaxConcurrency = 4 }),
            f =>
            {
                f.ExpectedReplicas = 2;
                f.BreakDuration = TimeSpan.FromMinutes(2);
            });
        WorkloadClass reports = replica.Scheduler.GetClass("reports");
        (await reports.AcquireAsync().WithTimeout()).Dispose();
        await redis.StopAsync();
        await BreakerOpensAsync(replica, WorkloadFleetState.LocalShare);

        await redis.StartAgainAsync();

        // A two-minute break would keep the replica on its local share; the maintenance timer asks Redis every
        // quarter second and closes the breaker at the first answer (the connection's own reconnect takes a few).
        await Eventually.TrueAsync(() => replica.FleetState("reports") == WorkloadFleetState.Coordinated, "the replica uses Redis again", TimeSpan.FromSeconds(20));

        // The server came back empty: after its recovery window (two batch intervals, for holders to re-register the
        // seats they run), the whole cap is there to take.
        (await AcquireEventuallyAsync(reports, 4, "the fleet cap is there again")).ForEach(l => l.Dispose());
    }

    [Theory]
    [InlineData(1, RedisFleetFallback.LocalShare, true)]
    [InlineData(3, RedisFleetFallback.LocalShare, false)]
    [InlineData(1, RedisFleetFallback.FailClosed, false)]
    public async Task StartUp_FleetLimitsWithOneExpectedReplica_WarnsOnce(int expectedReplicas, RedisFleetFallback fallback, bool warns)
    {
        await using var replica = new FleetReplica(
            "127.0.0.1:1",
            o => o.AddClass("reports", c => c.Fleet = new() { MaxConcurrency = 4 }).AddClass("exports", c => c.Fleet = new() { MaxConcurrency = 2 }),
            f =>
            {
                f.ExpectedReplicas = expectedReplicas;
                f.Fallback = fallback;
            });

        Assert.Equal(warns ? 1 : 0, replica.Logs.Messages.Count(m => m.Message.Contains("ExpectedReplicas 1", StringComparison.Ordinal)));
    }

    [Fact]
    public void RedisFleetSection_AsFleetMdWritesIt_Binds()
    {
        string json = Repository.ReadAllText("docs", "fleet.md").Split("```json").Select(b => b.Split("```")[0]).Single(b => b.Contains("\"RedisFleet\"", StringComparison.Ordinal));
        IConfiguration configuration = new ConfigurationBuilder().AddJsonStream(new MemoryStream(System.Text.Encoding.UTF8.GetBytes("{" + json + "}"))).Build();
        var services = new ServiceCollection();
        services.AddWorkloadIsolation(o => o.AddClass("default")).AddRedisFleetLimits(configuration.GetSection("RedisFleet"));
        using ServiceProvider provider = services.BuildServiceProvider();

        RedisFleetOptions options = provider.GetRequiredService<IOptions<RedisFleetOptions>>().Value;

        Assert.Equal(("redis:6379", "orders-api", 4, RedisFleetFallback.LocalShare), (options.Configuration, options.KeyPrefix, options.ExpectedReplicas, options.Fallback));
        Assert.Equal((TimeSpan.FromMilliseconds(500), TimeSpan.FromSeconds(10), TimeSpan.FromMilliseconds(250), TimeSpan.FromSeconds(5)), (options.BatchInterval, options.SeatLeaseTime, options.OperationTimeout, options.BreakDuration));
    }

    [Fact]
    public void StartUp_WithBadFleetOptions_FailsNamingEachProblem()
    {
        var services = new ServiceCollection();
        services.AddWorkloadIsolation(o => o.AddClass("default")).AddRedisFleetLimits(f =>
        {
            f.Configuration = "127.0.0.1:1";
            f.ExpectedReplicas = 0;
            f.BatchInterval = TimeSpan.Zero;
            f.KeyPrefix = " ";
        });
        using ServiceProvider provider = services.BuildServiceProvider();

        var failure = Assert.Throws<OptionsValidationException>(() => provider.GetRequiredService<IOptions<RedisFleetOptions>>().Value);
        Assert.Contains("RedisFleet: ExpectedReplicas (0) must be at least 1.", failure.Failures);
        Assert.Contains("RedisFleet: KeyPrefix is empty; it is required.", failure.Failures);
        Assert.Contains(failure.Failures, f => f.StartsWith("RedisFleet: BatchInterval (00:00:00) must be at least 1 ms", StringComparison.Ordinal));
    }

    [Fact]
    public void StartUp_WithASeatLeaseNotLongerThanTwoBatchIntervals_FailsSayingWhy()
    {
        // A seat is used only in the first half of its lease: renewed every batch interval, a lease of two intervals or
        // less would leave a busy replica without a usable seat between renewals.
        var services = new ServiceCollection();
        services.AddWorkloadIsolation(o => o.AddClass("default")).AddRedisFleetLimits(f =>
        {
            f.Configuration = "127.0.0.1:1";
            f.BatchInterval = TimeSpan.FromSeconds(1);
            f.SeatLeaseTime = TimeSpan.FromSeconds(2);
        });
        using ServiceProvider provider = services.BuildServiceProvider();

        var failure = Assert.Throws<OptionsValidationException>(() => provider.GetRequiredService<IOptions<RedisFleetOptions>>().Value);
        Assert.Equal(
            "RedisFleet: SeatLeaseTime (00:00:02) must be longer than twice BatchInterval (00:00:01): a replica uses its seats only in the first half of their lease and renews them every BatchInterval.",
            Assert.Single(failure.Failures));
    }

    [Fact]
    public void StartUp_WithoutRedisConfiguredOrRegistered_SaysWhatIsMissing()
    {
        var services = new ServiceCollection();
        services.AddWorkloadIsolation(o => o.AddClass("default", c => c.Fleet = new() { MaxConcurrency = 2 })).AddRedisFleetLimits(_ => { });
        using ServiceProvider provider = services.BuildServiceProvider();

        var failure = Assert.Throws<InvalidOperationException>(() => provider.GetRequiredService<IWorkloadScheduler>());
        Assert.Contains("set RedisFleetOptions.Configuration", failure.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AddRedisFleetLimits_FromAConfigurationSection_BindsEveryOption()
    {
        IConfiguration section = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Configuration"] = "redis:6379",
            ["KeyPrefix"] = "orders",
            ["ExpectedReplicas"] = "4",
            ["Fallback"] = "FailClosed",
            ["MaxBatchSize"] = "16",
            ["BatchInterval"] = "00:00:00.250",
            ["SeatLeaseTime"] = "00:00:30",
            ["OperationTimeout"] = "00:00:00.100",
            ["BreakDuration"] = "00:00:10",
            ["ReplicaId"] = "pod-7",
        }).Build();
        var services = new ServiceCollection();
        services.AddWorkloadIsolation().AddRedisFleetLimits(section);
        using ServiceProvider provider = services.BuildServiceProvider();

        RedisFleetOptions options = provider.GetRequiredService<IOptions<RedisFleetOptions>>().Value;
        Assert.Equal(
            ("redis:6379", "orders", 4, RedisFleetFallback.FailClosed, 16, TimeSpan.FromMilliseconds(250), TimeSpan.FromSeconds(30), TimeSpan.FromMilliseconds(100), TimeSpan.FromSeconds(10), "pod-7"),
            (options.Configuration, options.KeyPrefix, options.ExpectedReplicas, options.Fallback, options.MaxBatchSize, options.BatchInterval, options.SeatLeaseTime, options.OperationTimeout, options.BreakDuration, options.ReplicaId));
    }

    /// <summary>Acquires and frees until the replica's breaker opens: its class is then decided under <paramref name="state"/>.</summary>
    private static Task BreakerOpensAsync(FleetReplica replica, WorkloadFleetState state) => Eventually.TrueAsync(
        () =>
        {
            replica.Scheduler.GetClass("reports").AcquireAsync().AsTask().GetAwaiter().GetResult().Dispose();
            return replica.FleetState("reports") == state;
        },
        "the breaker opens",
        TimeSpan.FromSeconds(15));

    /// <summary>Acquires until <paramref name="count"/> leases are held (seats that come back with time), for at most 15 seconds.</summary>
    private static async Task<List<WorkloadLease>> AcquireEventuallyAsync(WorkloadClass workloadClass, int count, string what)
    {
        List<WorkloadLease> held = [];
        await Eventually.TrueAsync(
            () =>
            {
                WorkloadLease lease = workloadClass.AcquireAsync().AsTask().GetAwaiter().GetResult();
                if (lease.IsAcquired)
                {
                    held.Add(lease);
                }

                return held.Count == count;
            },
            what,
            TimeSpan.FromSeconds(15));
        return held;
    }

    /// <summary>Acquires, asserting that the answer came without waiting (no network call).</summary>
    private static WorkloadLease AcquireSynchronously(WorkloadClass workloadClass)
    {
        ValueTask<WorkloadLease> acquiring = workloadClass.AcquireAsync();
        bool completed = acquiring.IsCompleted;
        WorkloadLease lease = acquiring.AsTask().GetAwaiter().GetResult();
        Assert.True(completed, "Under the fallback no admission waits on Redis.");
        return lease;
    }
}
