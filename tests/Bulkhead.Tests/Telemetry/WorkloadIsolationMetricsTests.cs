using System.Diagnostics.Metrics;
using Bulkhead.Jobs.Internal;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Microsoft.Extensions.Time.Testing;
using Bulkhead.Telemetry.Internal;

namespace Bulkhead.Tests.Telemetry;

/// <summary>Every instrument of the <c>Bulkhead</c> meter, its tags and values, through <see cref="MetricCollector{T}"/>.</summary>
public sealed class WorkloadIsolationMetricsTests : IDisposable
{
    private const string ClassTag = "bulkhead.workload_class";
    private const string ResultTag = "bulkhead.result";
    private const string ReasonTag = "bulkhead.rejection_reason";

    private readonly FakeTimeProvider _time = new();
    private readonly ServiceProvider _services;
    private readonly IWorkloadScheduler _scheduler;
    private readonly IMeterFactory _meters;

    public WorkloadIsolationMetricsTests()
    {
        _services = new ServiceCollection()
            .AddSingleton<TimeProvider>(_time)
            .AddWorkloadIsolation(o =>
            {
                o.TotalConcurrency = 4;
                o.AddClass("interactive", c => c.ReservedConcurrency = 1)
                    .AddClass("batch", c =>
                    {
                        c.Priority = 3;
                        c.MaxConcurrency = 1;
                        c.QueueLimit = 1;
                        c.QueueTimeout = TimeSpan.FromSeconds(10);
                        (c.Execution ??= new WorkloadExecutionOptions()).Timeout = TimeSpan.FromSeconds(5);
                    });
                o.DefaultClass = "interactive";
            })
            .Services.BuildServiceProvider();
        _scheduler = _services.GetRequiredService<IWorkloadScheduler>();
        _meters = _services.GetRequiredService<IMeterFactory>();
    }

    public void Dispose() => _services.Dispose();

    [Fact]
    public void EveryInstrument_HasAUnitADescriptionAndIsDocumented()
    {
        var published = new List<Instrument>();
        using var listener = new MeterListener
        {
            InstrumentPublished = (instrument, _) =>
            {
                if (instrument.Meter.Name == WorkloadIsolationTelemetry.MeterName && instrument.Meter.Scope == _meters)
                {
                    published.Add(instrument);
                }
            },
        };
        listener.Start();

        string docs = Repository.ReadAllText("docs", "metrics.md");
        Assert.Equal(
            ["bulkhead.dedicated_threads", "bulkhead.dedicated_threads.starvations", "bulkhead.fleet.state", "bulkhead.job.items", "bulkhead.job.items.pending", "bulkhead.limit",
             "bulkhead.objective.measured", "bulkhead.objective.target", "bulkhead.pressure", "bulkhead.shed",
             "bulkhead.work.active", "bulkhead.work.decisions", "bulkhead.work.demand_ratio", "bulkhead.work.execution_timeouts", "bulkhead.work.fallbacks", "bulkhead.work.overrunning",
             "bulkhead.work.queue.duration", "bulkhead.work.queue.oldest_wait", "bulkhead.work.queued", "bulkhead.work.seat.duration"],
            published.Select(i => i.Name).Order(StringComparer.Ordinal));
        Assert.All(published, i =>
        {
            Assert.False(string.IsNullOrEmpty(i.Unit), i.Name);
            Assert.False(string.IsNullOrEmpty(i.Description), i.Name);
            Assert.Contains($"`{i.Name}`", docs, StringComparison.Ordinal);
        });

        // Durations use the advice API's buckets, 100 µs to 30 s, so exporters do not fall back to milliseconds-sized ones.
        var queue = (Histogram<double>)published.Single(i => i.Name == "bulkhead.work.queue.duration");
        Assert.Equal(0.0001, queue.Advice!.HistogramBucketBoundaries![0]);
        Assert.Equal(30, queue.Advice.HistogramBucketBoundaries![^1]);
    }

    [Fact]
    public async Task ActiveQueuedAndOldestWait_PerClass()
    {
        using var active = Collector<long>("bulkhead.work.active");
        using var queued = Collector<long>("bulkhead.work.queued");
        using var oldest = Collector<double>("bulkhead.work.queue.oldest_wait");

        WorkloadLease first = _scheduler.TryAcquire("interactive");
        WorkloadLease second = _scheduler.TryAcquire("interactive");
        WorkloadLease batch = _scheduler.TryAcquire("batch");
        Task<WorkloadLease> waiting = _scheduler.AcquireAsync("batch").AsTask();
        _time.Advance(TimeSpan.FromSeconds(2));

        Assert.Equal(2, Observe(active, (ClassTag, "interactive")));
        Assert.Equal(1, Observe(active, (ClassTag, "batch")));
        Assert.Equal(0, Observe(queued, (ClassTag, "interactive")));
        Assert.Equal(1, Observe(queued, (ClassTag, "batch")));
        Assert.Equal(2.0, Observe(oldest, (ClassTag, "batch")));
        Assert.Equal(0.0, Observe(oldest, (ClassTag, "interactive")));

        batch.Dispose();
        (await waiting.WithTimeout()).Dispose();
        first.Dispose();
        second.Dispose();
        Assert.Equal(0, Observe(active, (ClassTag, "interactive")));
        Assert.Equal(0, Observe(queued, (ClassTag, "batch")));
    }

    [Fact]
    public async Task DemandRatio_IsWorkHeldOrWaitingOverTheSeatsTheClassMayHold()
    {
        using var demand = Collector<double>("bulkhead.work.demand_ratio");
        Assert.Equal(0.0, Observe(demand, (ClassTag, "batch")));

        // batch may hold 1: one running and one waiting is twice what it can seat, the signal to add capacity.
        WorkloadLease batch = _scheduler.TryAcquire("batch");
        Task<WorkloadLease> waiting = _scheduler.AcquireAsync("batch").AsTask();
        Assert.Equal(2.0, Observe(demand, (ClassTag, "batch")));

        // interactive may hold all 4 seats: three held is 0.75.
        WorkloadLease[] interactive = [_scheduler.TryAcquire("interactive"), _scheduler.TryAcquire("interactive"), _scheduler.TryAcquire("interactive")];
        Assert.Equal(0.75, Observe(demand, (ClassTag, "interactive")));

        batch.Dispose();
        (await waiting.WithTimeout()).Dispose();
        Array.ForEach(interactive, l => l.Dispose());
        Assert.Equal(0.0, Observe(demand, (ClassTag, "batch")));
        Assert.Equal(0.0, Observe(demand, (ClassTag, "interactive")));
    }

    [Fact]
    public async Task Decisions_CountAdmittedRejectedByReasonCanceledAndExempt()
    {
        using var decisions = Collector<long>("bulkhead.work.decisions");

        WorkloadLease held = _scheduler.TryAcquire("batch");                         // admitted
        Task<WorkloadLease> timesOut = _scheduler.AcquireAsync("batch").AsTask();    // waits, then times out
        WorkloadLease full = await _scheduler.AcquireAsync("batch");                 // queue full
        using var cancel = new CancellationTokenSource();
        _time.Advance(TimeSpan.FromSeconds(10));
        Assert.Equal(WorkloadRejectionReason.QueueTimeout, (await timesOut.WithTimeout()).RejectionReason);
        Task<WorkloadLease> canceled = _scheduler.AcquireAsync("batch", cancellationToken: cancel.Token).AsTask();
        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => canceled.WithTimeout());
        _services.GetRequiredService<FrontEndCounters>().CountExempt();
        _services.GetRequiredService<FrontEndCounters>().CountExempt();

        Assert.Equal(WorkloadRejectionReason.QueueFull, full.RejectionReason);
        decisions.RecordObservableInstruments();
        Assert.Equal(1, Value(decisions, (ClassTag, "batch"), (ResultTag, "admitted")));
        Assert.Equal(1, Value(decisions, (ClassTag, "batch"), (ResultTag, "rejected"), (ReasonTag, "queue_full")));
        Assert.Equal(1, Value(decisions, (ClassTag, "batch"), (ResultTag, "rejected"), (ReasonTag, "queue_timeout")));
        Assert.Equal(0, Value(decisions, (ClassTag, "batch"), (ResultTag, "rejected"), (ReasonTag, "rate_limited")));
        Assert.Equal(1, Value(decisions, (ClassTag, "batch"), (ResultTag, "canceled")));
        Assert.Equal(0, Value(decisions, (ClassTag, "interactive"), (ResultTag, "admitted")));
        Assert.Equal(2, Value(decisions, (ResultTag, "exempt")));
        held.Dispose();
    }

    [Fact]
    public async Task QueueDuration_RecordsHowLongEachWaitLastedAndHowItEnded()
    {
        using var queue = Collector<double>("bulkhead.work.queue.duration");
        WorkloadLease held = _scheduler.TryAcquire("batch");
        Assert.Empty(queue.GetMeasurementSnapshot());                                // admitted at once: never waited

        Task<WorkloadLease> admitted = _scheduler.AcquireAsync("batch").AsTask();
        _time.Advance(TimeSpan.FromMilliseconds(250));
        held.Dispose();
        WorkloadLease lease = await admitted.WithTimeout();
        Task<WorkloadLease> timesOut = _scheduler.AcquireAsync("batch").AsTask();
        _time.Advance(TimeSpan.FromSeconds(10));
        Assert.False((await timesOut.WithTimeout()).IsAcquired);

        IReadOnlyList<CollectedMeasurement<double>> measurements = queue.GetMeasurementSnapshot();
        Assert.Equal(2, measurements.Count);
        Assert.Equal(0.25, measurements[0].Value, 6);
        Assert.True(Matches(measurements[0], (ClassTag, "batch"), (ResultTag, "admitted")));
        Assert.Equal(10, measurements[1].Value, 6);
        Assert.True(Matches(measurements[1], (ClassTag, "batch"), (ResultTag, "rejected"), (ReasonTag, "queue_timeout")));
        lease.Dispose();
    }

    [Fact]
    public void SeatDuration_IsMeasuredOnOneLeaseInSixteen()
    {
        using var seat = Collector<double>("bulkhead.work.seat.duration");

        for (int i = 0; i < 32; i++)
        {
            WorkloadLease lease = _scheduler.TryAcquire("interactive");
            _time.Advance(TimeSpan.FromMilliseconds(40 + i));
            lease.Dispose();
        }

        IReadOnlyList<CollectedMeasurement<double>> measurements = seat.GetMeasurementSnapshot();
        Assert.Equal([0.040, 0.056], measurements.Select(m => Math.Round(m.Value, 6)));
        Assert.All(measurements, m => Assert.True(Matches(m, (ClassTag, "interactive"))));
    }

    [Fact]
    public void NoListener_NothingIsRecordedAndNoClockIsRead()
    {
        var time = new CountingTimeProvider();
        using ServiceProvider services = new ServiceCollection()
            .AddSingleton<TimeProvider>(time)
            .AddWorkloadIsolation(o => o.AddClass("interactive").DefaultClass = "interactive")
            .Services.BuildServiceProvider();
        var scheduler = services.GetRequiredService<IWorkloadScheduler>();
        WorkloadClass interactive = scheduler.GetClass("interactive");

        for (int i = 0; i < 100; i++)
        {
            interactive.TryAcquire().Dispose();
        }

        Assert.Equal(0, time.Timestamps);

        // The same admissions with a listener on the seat duration: the clock is read for the sampled leases.
        using var seat = new MetricCollector<double>(services.GetRequiredService<IMeterFactory>(), WorkloadIsolationTelemetry.MeterName, "bulkhead.work.seat.duration");
        for (int i = 0; i < 32; i++)
        {
            interactive.TryAcquire().Dispose();
        }

        Assert.Equal(4, time.Timestamps);
        Assert.Equal(2, seat.GetMeasurementSnapshot().Count);
    }

    [Fact]
    public void Objectives_TheProcessThreadPoolDelay_HasNoClassTag()
    {
        var time = new FakeTimeProvider();
        using ServiceProvider services = new ServiceCollection()
            .AddSingleton<TimeProvider>(time)
            .AddWorkloadIsolation(o =>
            {
                o.Adaptive.Enabled = true;
                o.Adaptive.Window = TimeSpan.FromMilliseconds(250);
                o.Adaptive.ThreadPoolDelayP99 = TimeSpan.FromMilliseconds(2);
                o.AddClass("interactive").AddClass("batch", c => c.Priority = 3);
                o.DefaultClass = "interactive";
            })
            .Services.BuildServiceProvider();
        var scheduler = (Bulkhead.Admission.Internal.WorkloadScheduler)services.GetRequiredService<IWorkloadScheduler>();
        IMeterFactory meters = services.GetRequiredService<IMeterFactory>();
        using var target = new MetricCollector<double>(meters, WorkloadIsolationTelemetry.MeterName, "bulkhead.objective.target");
        using var observed = new MetricCollector<double>(meters, WorkloadIsolationTelemetry.MeterName, "bulkhead.objective.measured");

        for (int i = 0; i < 60; i++)
        {
            scheduler.Adaptive.RecordPoolDelay(TimeSpan.FromMilliseconds(1));
        }

        time.Advance(TimeSpan.FromMilliseconds(250));
        target.RecordObservableInstruments();
        observed.RecordObservableInstruments();

        CollectedMeasurement<double> objective = Assert.Single(target.GetMeasurementSnapshot());
        Assert.Equal(0.002, objective.Value, 6);
        Assert.Equal([new("bulkhead.objective", "threadpool_delay_p99")], objective.Tags);
        CollectedMeasurement<double> measured = Assert.Single(observed.GetMeasurementSnapshot());
        Assert.InRange(measured.Value, 0.00097, 0.00103);
        Assert.Equal([new("bulkhead.objective", "threadpool_delay_p99")], measured.Tags);
    }

    [Fact]
    public void PressureAndShed_WhileAClassShedsUnderPressure()
    {
        var time = new FakeTimeProvider();
        using ServiceProvider services = new ServiceCollection()
            .AddSingleton<TimeProvider>(time)
            .AddWorkloadIsolation(o =>
            {
                o.AddClass("interactive").AddClass("batch", c => { c.Priority = 3; c.Shed = new WorkloadShedOptions { MemoryAbove = 0.7 }; });
                o.DefaultClass = "interactive";
            })
            .Services.BuildServiceProvider();
        var scheduler = (Bulkhead.Admission.Internal.WorkloadScheduler)services.GetRequiredService<IWorkloadScheduler>();
        var probe = new Bulkhead.Tests.Pressure.ShedTests.FakeProbe { Cpu = 0.4, Memory = 0.75 };
        scheduler.Pressure.Probe = probe;
        IMeterFactory meters = services.GetRequiredService<IMeterFactory>();
        using var pressure = new MetricCollector<double>(meters, WorkloadIsolationTelemetry.MeterName, "bulkhead.pressure");
        using var shed = new MetricCollector<int>(meters, WorkloadIsolationTelemetry.MeterName, "bulkhead.shed");
        using var decisions = new MetricCollector<long>(meters, WorkloadIsolationTelemetry.MeterName, "bulkhead.work.decisions");

        // Nothing read yet: no series.
        pressure.RecordObservableInstruments();
        Assert.Empty(pressure.GetMeasurementSnapshot());

        time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(0.4, Observe(pressure, ("bulkhead.signal", "cpu")));
        Assert.Equal(0.75, Observe(pressure, ("bulkhead.signal", "memory")));
        Assert.Equal(1, Observe(shed, (ClassTag, "batch")));
        Assert.Equal(0, Observe(shed, (ClassTag, "interactive")));

        Assert.False(scheduler.TryAcquire("batch").IsAcquired);
        Assert.Equal(1L, Observe(decisions, (ClassTag, "batch"), (ResultTag, "rejected"), (ReasonTag, "shed")));
    }

    [Fact]
    public void Limits_AreThoseInForce()
    {
        using var limits = Collector<long>("bulkhead.limit");
        limits.RecordObservableInstruments();

        Assert.Equal(4, Value(limits, (ClassTag, "interactive"), ("bulkhead.limit", "max")));
        Assert.Equal(1, Value(limits, (ClassTag, "interactive"), ("bulkhead.limit", "reserved")));
        Assert.Equal(100, Value(limits, (ClassTag, "interactive"), ("bulkhead.limit", "queue")));
        Assert.Equal(1, Value(limits, (ClassTag, "batch"), ("bulkhead.limit", "max")));
        Assert.Equal(1, Value(limits, (ClassTag, "batch"), ("bulkhead.limit", "configured_max")));
        Assert.Equal(1, Value(limits, (ClassTag, "batch"), ("bulkhead.limit", "queue")));
        Assert.Equal(3, Value(limits, ("bulkhead.limit", "pool")));
    }

    [Fact]
    public async Task ExecutionTimeoutsAndFallbacks_AreCounted()
    {
        using var timeouts = Collector<long>("bulkhead.work.execution_timeouts");
        using var overrunning = Collector<long>("bulkhead.work.overrunning");
        using var fallbacks = Collector<long>("bulkhead.work.fallbacks");
        var gate = new TaskCompletionSource();

        Task run = _scheduler.RunAsync("batch", async ct => await gate.Task);       // ignores its token
        await Eventually.TrueAsync(() => _scheduler.GetSnapshot()["batch"].InFlight == 1, "the work holds its seat");
        _time.Advance(TimeSpan.FromSeconds(5));
        await Eventually.TrueAsync(() => _scheduler.GetSnapshot()["batch"].Overrunning == 1, "the work overruns");
        _services.GetRequiredService<FrontEndCounters>().CountUnknownClassFallback();

        Assert.Equal(1, Observe(timeouts, (ClassTag, "batch")));
        Assert.Equal(1, Observe(overrunning, (ClassTag, "batch")));
        fallbacks.RecordObservableInstruments();
        Assert.Equal(1, Value(fallbacks, (ClassTag, "interactive"), ("bulkhead.fallback_reason", "unknown_class")));
        Assert.Equal(0, Value(fallbacks, (ClassTag, "interactive"), ("bulkhead.fallback_reason", "removed_class")));
        gate.SetResult();
        await run.WithTimeout();
        Assert.Equal(0, Observe(overrunning, (ClassTag, "batch")));
    }

    [Fact]
    public async Task JobItems_ByOutcomeAndPendingByState()
    {
        using var items = Collector<long>("bulkhead.job.items");
        using var pending = Collector<long>("bulkhead.job.items.pending");
        var jobs = (WorkloadJobQueue)_services.GetRequiredService<IWorkloadJobQueue>();
        var gate = new TaskCompletionSource();

        await jobs.EnqueueAsync("batch", _ => ValueTask.CompletedTask);
        await jobs.EnqueueAsync("batch", _ => throw new InvalidOperationException("boom"));
        await Eventually.TrueAsync(() => jobs.Completed == 1 && jobs.Failed == 1, "both items ended");
        await jobs.EnqueueAsync("batch", async _ => await gate.Task);                 // runs, holding batch's only seat
        await Eventually.TrueAsync(() => _scheduler.GetSnapshot()["batch"].Jobs.Running == 1, "the item runs");
        await jobs.EnqueueAsync("batch", _ => ValueTask.CompletedTask);               // waits for the seat

        pending.RecordObservableInstruments();
        Assert.Equal(1, Value(pending, (ClassTag, "batch"), ("bulkhead.job.state", "running")));
        Assert.Equal(1, Value(pending, (ClassTag, "batch"), ("bulkhead.job.state", "waiting")));
        await jobs.StopAsync(CancellationToken.None).WaitAsync(TimeSpan.FromMilliseconds(50)).ContinueWith(_ => { }, TaskScheduler.Default);
        gate.SetResult();
        await Eventually.TrueAsync(() => jobs.Pending == 0, "every item ended");

        items.RecordObservableInstruments();
        Assert.Equal(2, Value(items, (ClassTag, "batch"), ("bulkhead.job.outcome", "completed")));
        Assert.Equal(1, Value(items, (ClassTag, "batch"), ("bulkhead.job.outcome", "failed")));
        Assert.Equal(1, Value(items, (ClassTag, "batch"), ("bulkhead.job.outcome", "dropped")));
        Assert.Equal(0, Value(items, (ClassTag, "batch"), ("bulkhead.job.outcome", "canceled")));
        WorkloadJobCounts counts = _scheduler.GetSnapshot()["batch"].Jobs;
        Assert.Equal((0, 0, 2L, 1L, 1L, 0L), (counts.Waiting, counts.Running, counts.Completed, counts.Failed, counts.Dropped, counts.Canceled));
    }

    [Fact]
    public async Task UnderConcurrentLoad_DecisionsAddUpAndNeverGoBack()
    {
        using var decisions = Collector<long>("bulkhead.work.decisions");
        using var active = Collector<long>("bulkhead.work.active");
        const int Producers = 4;
        const int Attempts = 3_000;
        using var stop = new CancellationTokenSource();
        long lastTotal = 0;
        int samples = 0;
        long attempts = 0;

        // One rejection and one admission first, so that every series the load feeds exists whatever the scheduling.
        WorkloadLease first = _scheduler.TryAcquire("batch");
        Assert.Equal(WorkloadRejectionReason.QueueFull, _scheduler.TryAcquire("batch").RejectionReason);
        first.Dispose();
        attempts += 2;

        // A reader collects while producers admit, wait, give up and are rejected: totals never go back.
        Task reader = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                decisions.RecordObservableInstruments();
                long total = decisions.GetMeasurementSnapshot(clear: true).Where(m => Equals(m.Tags.GetValueOrDefault(ClassTag), "batch")).Sum(m => m.Value);
                Assert.True(total >= lastTotal, $"the decisions went back from {lastTotal} to {total}");
                lastTotal = total;
                Interlocked.Increment(ref samples);
                await Task.Yield();
            }
        });
        Task[] producers = [.. Enumerable.Range(0, Producers).Select(p => Task.Run(async () =>
        {
            // Each producer goes on until the reader has collected a few times while work ran, however they are scheduled.
            for (int i = 0; i < Attempts || Volatile.Read(ref samples) < 5; i++)
            {
                Interlocked.Increment(ref attempts);
                if (i % 3 == 0)
                {
                    using var giveUp = new CancellationTokenSource();
                    ValueTask<WorkloadLease> waiting = _scheduler.AcquireAsync("batch", cancellationToken: giveUp.Token);
                    await giveUp.CancelAsync();
                    try
                    {
                        (await waiting).Dispose();
                    }
                    catch (OperationCanceledException)
                    {
                    }
                }
                else
                {
                    WorkloadLease lease = _scheduler.TryAcquire("batch");
                    await Task.Yield();
                    lease.Dispose();
                }
            }
        }))];
        await Task.WhenAll(producers).WithTimeout();
        await stop.CancelAsync();
        await reader.WithTimeout();

        WorkloadClassSnapshot batch = _scheduler.GetSnapshot()["batch"];
        decisions.RecordObservableInstruments();
        IReadOnlyList<CollectedMeasurement<long>> final = decisions.GetMeasurementSnapshot(clear: true);
        long Sum(string result) => final.Where(m => Equals(m.Tags.GetValueOrDefault(ClassTag), "batch") && Equals(m.Tags[ResultTag], result)).Sum(m => m.Value);

        Assert.True(Volatile.Read(ref samples) >= 5, "the reader collected while the producers ran");
        Assert.Equal(Interlocked.Read(ref attempts), Sum("admitted") + Sum("rejected") + Sum("canceled"));
        Assert.Equal((batch.Admitted, batch.Rejected, batch.Canceled), (Sum("admitted"), Sum("rejected"), Sum("canceled")));
        Assert.Equal(0, Observe(active, (ClassTag, "batch")));
    }

    /// <summary>Whether a measurement has exactly these tags.</summary>
    private static bool Matches<T>(CollectedMeasurement<T> measurement, params (string Key, object? Value)[] tags)
        where T : struct =>
        measurement.MatchesTags(tags.Select(t => new KeyValuePair<string, object?>(t.Key, t.Value)).ToArray());

    private static T Value<T>(MetricCollector<T> collector, params (string Key, object? Value)[] tags)
        where T : struct =>
        collector.GetMeasurementSnapshot().Last(m => Matches(m, tags)).Value;

    private static T Observe<T>(MetricCollector<T> collector, params (string Key, object? Value)[] tags)
        where T : struct
    {
        collector.RecordObservableInstruments();
        return Value(collector, tags);
    }

    private MetricCollector<T> Collector<T>(string instrument)
        where T : struct => new(_meters, WorkloadIsolationTelemetry.MeterName, instrument);

    private sealed class CountingTimeProvider : TimeProvider
    {
        private int _timestamps;

        public int Timestamps => Volatile.Read(ref _timestamps);

        public override long GetTimestamp()
        {
            Interlocked.Increment(ref _timestamps);
            return base.GetTimestamp();
        }
    }
}
