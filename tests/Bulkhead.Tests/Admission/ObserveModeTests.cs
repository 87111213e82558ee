using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;

namespace Bulkhead.Tests.Admission;

/// <summary>
/// Observe mode, against Enforce on the same trace: one scheduler enforces, the other observes, both on fake time; every
/// step is applied to both. Observe must admit every unit of work at once, and its figures (seats, queues, admissions,
/// rejections by reason, cancellations) must be exactly Enforce's.
/// </summary>
public sealed class ObserveModeTests
{
    [Theory]
    [InlineData(WorkloadIsolationMode.Observe, false)]
    [InlineData(WorkloadIsolationMode.Enforce, true)]
    public async Task ObserveMode_RunsWorkWhereItWouldRunWithoutBulkhead_NotOnDedicatedThreadsAndNeverTimedOut(WorkloadIsolationMode mode, bool placed)
    {
        // Observe moved work to the class's low-priority threads and canceled it at its execution timeout, so the
        // latency an operator measured while observing was not the unprotected one rollout.md promised.
        var time = new FakeTimeProvider();
        var options = new WorkloadIsolationOptions { TotalConcurrency = 4, DefaultClass = "reports", Mode = mode }
            .AddClass("reports", c =>
            {
                c.MaxConcurrency = 1;
                c.Execution = new WorkloadExecutionOptions { Timeout = TimeSpan.FromSeconds(1), DedicatedThreads = 1, CpuPriority = WorkloadCpuPriority.Lowest };
            });
        using var scheduler = TestScheduler.Create(options, time);
        WorkloadClass reports = scheduler.GetClass("reports");
        var finish = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var started = new TaskCompletionSource<string?>(TaskCreationOptions.RunContinuationsAsynchronously);

        WorkloadLease lease = await reports.AcquireAsync();
        Task<bool> running = reports.ExecuteAsync(
            lease,
            async (_, token) =>
            {
                started.SetResult(Thread.CurrentThread.Name);
                await finish.Task;
                return token.IsCancellationRequested;
            },
            state: null);
        string? thread = await started.Task.WaitAsync(TimeSpan.FromSeconds(30));
        time.Advance(TimeSpan.FromSeconds(2));
        finish.SetResult();
        bool canceled = await running.WaitAsync(TimeSpan.FromSeconds(30));

        Assert.Equal(placed, (thread ?? string.Empty).StartsWith("Bulkhead reports", StringComparison.Ordinal));
        Assert.Equal(placed, canceled);
        Assert.Equal(0, scheduler.GetSnapshot()["reports"].InFlight);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void ObserveMode_AdmitsEverythingAtOnce_AndCountsExactlyWhatEnforceDecides_OnTheSameTrace(int seed)
    {
        var random = new Random(seed);
        var enforceTime = new FakeTimeProvider();
        var observeTime = new FakeTimeProvider();
        using TestScheduler enforce = Scheduler(WorkloadIsolationMode.Enforce, enforceTime);
        using TestScheduler observe = Scheduler(WorkloadIsolationMode.Observe, observeTime);
        Dictionary<int, WorkloadLease> enforceHeld = [];
        Dictionary<int, (Task<WorkloadLease> Task, CancellationTokenSource Cts)> enforcePending = [];
        Dictionary<int, WorkloadLease> observeLeases = [];
        string[] classes = ["interactive", "reports", "batch"];
        string?[] partitions = [null, "a", "b"];

        for (int step = 0; step < 20_000; step++)
        {
            int dice = random.Next(100);
            if (dice < 45)
            {
                string name = classes[random.Next(classes.Length)];
                string? partition = partitions[random.Next(partitions.Length)];
                bool wait = random.Next(4) != 0;
                bool background = wait && random.Next(8) == 0;

                // A third of the units are wide (2 to 4 seats; some wider than their class can seat).
                int weight = random.Next(3) == 0 ? random.Next(2, 5) : 1;
                WorkloadClass enforced = enforce.GetClass(name);
                WorkloadClass observed = observe.GetClass(name);
                if (!wait)
                {
                    WorkloadLease lease = enforced.TryAcquire(new WorkloadRequest(partition) { Weight = weight });
                    if (lease.IsAcquired)
                    {
                        enforceHeld.Add(step, lease);
                    }

                    observeLeases.Add(step, AdmittedAtOnce(observed.TryAcquire(new WorkloadRequest(partition) { Weight = weight })));
                }
                else
                {
                    var cts = new CancellationTokenSource();
                    Task<WorkloadLease> task = background ? enforced.AcquireAsync(new WorkloadRequest(partition) { Weight = weight, Background = true }, cts.Token).AsTask() : enforced.AcquireAsync(new WorkloadRequest(partition) { Weight = weight }, cts.Token).AsTask();
                    enforcePending.Add(step, (task, cts));
                    observeLeases.Add(step, background ? AdmittedAtOnce(observed.AcquireAsync(new WorkloadRequest(partition) { Weight = weight, Background = true })) : AdmittedAtOnce(observed.AcquireAsync(new WorkloadRequest(partition) { Weight = weight })));
                }
            }
            else if (dice < 75 && enforceHeld.Count > 0)
            {
                // Work ends: in Enforce only work that was admitted; the same unit's lease in Observe.
                int id = enforceHeld.Keys.ElementAt(random.Next(enforceHeld.Count));
                enforceHeld[id].Dispose();
                enforceHeld.Remove(id);
                observeLeases[id].Dispose();
            }
            else if (dice < 85 && enforcePending.Count > 0)
            {
                // A client gives up waiting: in Observe its work ends before its place in the queue came.
                int id = enforcePending.Keys.ElementAt(random.Next(enforcePending.Count));
                enforcePending[id].Cts.Cancel();
                observeLeases[id].Dispose();
            }
            else
            {
                TimeSpan advance = TimeSpan.FromMilliseconds(random.Next(0, 400));
                enforceTime.Advance(advance);
                observeTime.Advance(advance);
            }

            // Waits that ended in Enforce: admitted ones hold their seat now; the others are over.
            foreach ((int id, (Task<WorkloadLease> task, CancellationTokenSource cts)) in enforcePending.Where(p => p.Value.Task.IsCompleted).ToList())
            {
                enforcePending.Remove(id);
                cts.Dispose();
                if (task.IsCompletedSuccessfully && AdmittedOrNot(task) is { IsAcquired: true } lease)
                {
                    enforceHeld.Add(id, lease);
                }
            }

            Assert.Equal(Figures(enforce), Figures(observe));
        }

        long rejected = enforce.GetSnapshot().Classes.Sum(c => c.Rejected);
        long tooWide = enforce.GetSnapshot().Classes.Sum(c => c.RejectedByReason[WorkloadRejectionReason.WeightTooLarge]);
        Assert.True(rejected > 100 && tooWide > 10 && enforce.GetSnapshot().Classes.Sum(c => c.Canceled) > 10, $"The trace must exercise rejections ({rejected}, {tooWide} too wide) and cancellations.");
        Assert.All(observe.GetSnapshot().Classes, c => Assert.Equal(WorkloadIsolationMode.Observe, c.Mode));
    }

    [Fact]
    public void SwitchingModes_IsALiveReload_AndWouldBeRejectionsAreLoggedAsSuch()
    {
        var logs = new ListLoggerProvider();
        var time = new FakeTimeProvider();
        using var scheduler = TestScheduler.Create(Options(WorkloadIsolationMode.Enforce), time, logger: logs.CreateLogger("Bulkhead.WorkloadIsolation"));
        WorkloadClass reports = scheduler.GetClass("reports");
        using WorkloadLease first = reports.TryAcquire("a");
        using WorkloadLease second = reports.TryAcquire("b");
        Assert.False(reports.TryAcquire("c").IsAcquired);

        scheduler.Apply(Options(WorkloadIsolationMode.Observe));
        WorkloadLease observed = reports.TryAcquire("c");
        Assert.True(observed.IsAcquired);
        Assert.Equal(2, scheduler.GetSnapshot()["reports"].InFlight);
        Assert.Equal(2, scheduler.GetSnapshot()["reports"].Rejected);
        Assert.Contains(logs.Messages, m => m.Level == LogLevel.Debug && m.Message.Contains("would have rejected a unit of work (QueueFull", StringComparison.Ordinal));
        time.Advance(TimeSpan.FromSeconds(1));
        Assert.Contains(logs.Messages, m => m.Level == LogLevel.Warning && m.Message.Contains("is in Observe mode and would have rejected", StringComparison.Ordinal));
        observed.Dispose();

        // One class back to Enforce while the host observes.
        WorkloadIsolationOptions mixed = Options(WorkloadIsolationMode.Observe);
        mixed.Classes["reports"].Mode = WorkloadIsolationMode.Enforce;
        scheduler.Apply(mixed);
        Assert.Equal(WorkloadRejectionReason.QueueFull, reports.TryAcquire("c").RejectionReason);
        Assert.Equal(WorkloadIsolationMode.Enforce, scheduler.GetSnapshot()["reports"].Mode);
        Assert.Equal(WorkloadIsolationMode.Observe, scheduler.GetSnapshot()["interactive"].Mode);
    }

    [Fact]
    public async Task ObservedWait_HoldsItsSeatOnceAdmitted_UntilTheWorkEnds()
    {
        var time = new FakeTimeProvider();
        using TestScheduler scheduler = Scheduler(WorkloadIsolationMode.Observe, time);
        WorkloadClass batch = scheduler.GetClass("batch");
        WorkloadLease running = await batch.AcquireAsync();
        WorkloadLease waiting = await batch.AcquireAsync();
        Assert.True(running.IsAcquired && waiting.IsAcquired);
        Assert.Equal((1, 1), (scheduler.GetSnapshot()["batch"].InFlight, scheduler.GetSnapshot()["batch"].Queued));

        // The seat frees: the observed wait takes it, as the waiter would have, and holds it until its work ends.
        running.Dispose();
        Assert.Equal((1, 0), (scheduler.GetSnapshot()["batch"].InFlight, scheduler.GetSnapshot()["batch"].Queued));
        waiting.Dispose();
        Assert.Equal((0, 0), (scheduler.GetSnapshot()["batch"].InFlight, scheduler.GetSnapshot()["batch"].Queued));
        Assert.Equal(2, scheduler.GetSnapshot()["batch"].Admitted);
    }

    /// <summary>The lease of a wait that has ended (the caller checked that it completed).</summary>
    private static WorkloadLease AdmittedOrNot(Task<WorkloadLease> ended) => ended.GetAwaiter().GetResult();

    private static WorkloadLease AdmittedAtOnce(WorkloadLease lease)
    {
        Assert.True(lease.IsAcquired, "Observe mode admits every unit of work.");
        return lease;
    }

    private static WorkloadLease AdmittedAtOnce(ValueTask<WorkloadLease> acquiring)
    {
        Assert.True(acquiring.IsCompleted, "Observe mode never keeps work waiting.");
        return AdmittedAtOnce(acquiring.Result);
    }

    private static (string, int, int, long, long, long, string)[] Figures(TestScheduler scheduler) =>
        [.. scheduler.GetSnapshot().Classes.Select(c => (c.Name, c.InFlight, c.Queued, c.Admitted, c.Rejected, c.Canceled,
            string.Join(",", c.RejectedByReason.OrderBy(r => r.Key).Select(r => r.Value))))];

    private static TestScheduler Scheduler(WorkloadIsolationMode mode, FakeTimeProvider time) => TestScheduler.Create(Options(mode), time);

    private static WorkloadIsolationOptions Options(WorkloadIsolationMode mode) => new WorkloadIsolationOptions { TotalConcurrency = 5, DefaultClass = "interactive", Mode = mode, MaxTrackedPartitions = 2 }
        .AddClass("interactive", c => (c.ReservedConcurrency, c.QueueLimit, c.QueueTimeout) = (2, 3, TimeSpan.FromSeconds(1)))
        .AddClass("reports", c =>
        {
            (c.Priority, c.MaxConcurrency, c.QueueLimit, c.QueueTimeout, c.QueueOrder) = (1, 2, 0, TimeSpan.FromSeconds(2), WorkloadQueueOrder.Lifo);
            c.RateLimit = new() { PermitsPerSecond = 4, Burst = 3, PerPartition = true };
        })
        .AddClass("batch", c => (c.Priority, c.MaxConcurrency, c.QueueLimit, c.QueueTimeout, c.MaxConcurrencyPerPartition) = (2, 1, 4, TimeSpan.FromMilliseconds(700), 1));
}
