using System.Collections.Concurrent;
using Bulkhead.Admission.Internal;
using Microsoft.Extensions.Time.Testing;

namespace Bulkhead.Tests.Reliability;

/// <summary>
/// A user's worst day on one engine: producers across classes and partitions with random cancellation, failing work,
/// queue timeouts, execution timeouts, rate limits, background waits, double disposal, reconfiguration (limits raised
/// and lowered, a class removed and added back) and shutdown at the end. Afterwards nothing is in flight or queued, and
/// every outcome the producers saw is the engine's count: admissions, rejections by reason, cancellations.
/// </summary>
/// <remarks>Runs for <c>BULKHEAD_SOAK_SECONDS</c> (default 10) of real time; the clock of timeouts is fake and advanced by a thread of its own.</remarks>
public sealed class ChaosSoakTests
{
    private static readonly string[] Classes = ["interactive", "reporting", "batch", "extra"];

    [Fact]
    public async Task Soak_EveryOutcomeIsCountedOnceAndNothingIsLeftBehind()
    {
        TimeSpan duration = TimeSpan.FromSeconds(int.TryParse(Environment.GetEnvironmentVariable("BULKHEAD_SOAK_SECONDS"), out int seconds) ? seconds : 10);
        var time = new FakeTimeProvider();
        using var scheduler = new WorkloadScheduler(Options(wide: true, withExtra: true), time);
        var outcomes = new ConcurrentDictionary<string, long>(StringComparer.Ordinal);
        long acquired = 0;
        long released = 0;
        using var stop = new CancellationTokenSource(duration);

        void Count(string outcome) => outcomes.AddOrUpdate(outcome, 1, (_, n) => n + 1);

        var every = new EveryClassState(scheduler);

        async Task Producer(int seed)
        {
            var random = new Random(seed);
            while (!stop.IsCancellationRequested)
            {
                string name = Classes[random.Next(Classes.Length)];
                string? partition = random.Next(4) == 0 ? null : $"tenant-{random.Next(12)}";
                using var cancel = new CancellationTokenSource();
                if (random.Next(8) == 0)
                {
                    cancel.Cancel();
                }

                WorkloadLease lease;
                try
                {
                    WorkloadClass handle = scheduler.TryGetClass(name, out WorkloadClass? found) ? found : scheduler.DefaultClass;
                    ValueTask<WorkloadLease> asking = random.Next(5) switch
                    {
                        0 => new ValueTask<WorkloadLease>(handle.TryAcquire(partition)),
                        1 => handle.AcquireAsync(new WorkloadRequest(partition) { Background = true }, cancel.Token),
                        _ => handle.AcquireAsync(partition, cancel.Token),
                    };
                    if (random.Next(6) == 0)
                    {
                        // The client leaves while queued, or not.
                        _ = Task.Run(cancel.Cancel);
                    }

                    lease = await asking;
                }
                catch (OperationCanceledException)
                {
                    Count("canceled");
                    continue;
                }

                if (!lease.IsAcquired)
                {
                    Count(lease.RejectionReason!.Value.ToString());
                    continue;
                }

                Interlocked.Increment(ref acquired);
                WorkloadClass holder = scheduler.TryGetClass(lease.WorkloadClass, out WorkloadClass? h) ? h : scheduler.DefaultClass;
                try
                {
                    await holder.ExecuteAsync(
                        lease,
                        static async (state, token) =>
                        {
                            int dice = (int)state!;
                            if (dice == 0)
                            {
                                throw new InvalidOperationException("failing work");
                            }

                            if (dice == 1)
                            {
                                // Honours the execution timeout's token, if any.
                                await Task.Delay(Timeout.Infinite, token).WaitAsync(TimeSpan.FromMilliseconds(20), CancellationToken.None).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
                                return;
                            }

                            if (dice < 5)
                            {
                                await Task.Yield();
                            }
                        },
                        random.Next(10),
                        CancellationToken.None);
                }
                catch (InvalidOperationException)
                {
                    // Failing work frees its seat too.
                }
                catch (ArgumentException)
                {
                    // A lease of a class handed to another class's handle: disposed below.
                    lease.Dispose();
                }

                Interlocked.Increment(ref released);
                if (random.Next(10) == 0)
                {
                    lease.Dispose(); // a second disposal frees nothing
                }
            }
        }

        async Task Clock()
        {
            while (!stop.IsCancellationRequested)
            {
                time.Advance(TimeSpan.FromMilliseconds(5));
                await Task.Delay(1);
            }
        }

        async Task Reconfigurer()
        {
            var random = new Random(99);
            while (!stop.IsCancellationRequested)
            {
                scheduler.Apply(Options(wide: random.Next(2) == 0, withExtra: random.Next(3) != 0));
                every.Remember();
                await Task.Delay(random.Next(5, 30));
            }
        }

        Task[] running = [Clock(), Reconfigurer(), .. Enumerable.Range(0, 6).Select(i => Task.Run(() => Producer(i)))];
        await Task.WhenAll(running).WaitAsync(duration + TimeSpan.FromMinutes(2));

        // Everything still waiting (background waits, waiters of a lowered class) must end: shutdown rejects them.
        scheduler.Apply(Options(wide: true, withExtra: true));
        every.Remember();
        ClassState[] states = every.All;
        WorkloadClassSnapshot[] snapshot = [.. scheduler.GetSnapshot().Classes];

        Assert.All(snapshot, c => Assert.Equal((c.Name, 0, 0, 0), (c.Name, c.InFlight, c.Queued, c.Overrunning)));
        Assert.Equal(0, scheduler.Engine.SharedInUse);
        Assert.Equal(acquired, released);
        Assert.Equal(acquired, states.Sum(c => c.Admitted));
        long rejected = outcomes.Where(o => o.Key != "canceled").Sum(o => o.Value);
        Assert.Equal(rejected, states.Sum(c => Volatile.Read(ref c.Rejected)));
        foreach (WorkloadRejectionReason reason in Enum.GetValues<WorkloadRejectionReason>())
        {
            Assert.Equal((reason, outcomes.GetValueOrDefault(reason.ToString())), (reason, states.Sum(c => Volatile.Read(ref c.RejectedByReason[(int)reason]))));
        }

        Assert.Equal(outcomes.GetValueOrDefault("canceled"), states.Sum(c => Volatile.Read(ref c.Canceled)));
        Assert.True(acquired > 1_000, $"The soak admitted work ({acquired}).");
        string seen = string.Join(", ", outcomes.Select(o => $"{o.Key} {o.Value}"));
        Assert.All(["QueueFull", "QueueTimeout", "RateLimited", "canceled"], outcome => Assert.True(outcomes.ContainsKey(outcome), $"The soak saw no {outcome}: {seen}."));

        // Shutdown at the end: a waiter of the moment is answered, and nothing is admitted after.
        WorkloadLease last = scheduler.TryAcquire("batch");
        scheduler.Dispose();
        Assert.Equal(WorkloadRejectionReason.ShuttingDown, (await scheduler.AcquireAsync("interactive")).RejectionReason);
        last.Dispose();
        Assert.Equal(0, scheduler.GetSnapshot()["batch"].InFlight);
    }

    private static WorkloadIsolationOptions Options(bool wide, bool withExtra)
    {
        var options = new WorkloadIsolationOptions { TotalConcurrency = wide ? 12 : 6, DefaultClass = "interactive", MaxTrackedPartitions = 8 }
            .AddClass("interactive", c => { c.ReservedConcurrency = wide ? 3 : 1; c.QueueLimit = 20; c.QueueTimeout = TimeSpan.FromMilliseconds(50); })
            .AddClass("reporting", c =>
            {
                c.Priority = 2;
                c.MaxConcurrency = wide ? 6 : 2;
                c.MaxConcurrencyPerPartition = 2;
                c.QueueLimit = 10;
                c.QueueTimeout = TimeSpan.FromMilliseconds(100);
                c.RateLimit = new WorkloadRateLimitOptions { PermitsPerSecond = 20, Burst = 5, PerPartition = true };
            })
            .AddClass("batch", c =>
            {
                c.Priority = 3;
                c.MaxConcurrency = wide ? 4 : 1;
                c.QueueLimit = 5;
                c.QueueOrder = WorkloadQueueOrder.Lifo;
                c.QueueTimeout = TimeSpan.FromMilliseconds(30);
                (c.Execution ??= new WorkloadExecutionOptions()).Timeout = TimeSpan.FromMilliseconds(10);
            });
        if (withExtra)
        {
            options.AddClass("extra", c => { c.Priority = 1; c.MaxConcurrency = 2; c.QueueLimit = 3; c.QueueTimeout = TimeSpan.Zero; });
        }

        return options;
    }
}
