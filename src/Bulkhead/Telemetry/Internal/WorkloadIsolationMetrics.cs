using System.Diagnostics.Metrics;
using System.Runtime.CompilerServices;
using Bulkhead.Admission.Internal;

namespace Bulkhead.Telemetry.Internal;

/// <summary>
/// The <c>Bulkhead</c> meter's instruments. Everything the engine already counts (seats, queues, decisions, limits,
/// timeouts, fallbacks, job items) is observed from the scheduler's snapshot when a listener collects, so admission pays
/// nothing for it; only the two durations are recorded as they happen, and only while a listener is attached
/// (<see cref="Instrument.Enabled"/>), as ASP.NET Core's rate limiting metrics do.
/// </summary>
internal sealed class WorkloadIsolationMetrics
{
    public const string ClassTag = "bulkhead.workload_class";
    public const string ResultTag = "bulkhead.result";
    public const string ReasonTag = "bulkhead.rejection_reason";
    public const string LimitTag = "bulkhead.limit";
    public const string FallbackReasonTag = "bulkhead.fallback_reason";
    public const string JobOutcomeTag = "bulkhead.job.outcome";
    public const string JobStateTag = "bulkhead.job.state";
    public const string ObjectiveTag = "bulkhead.objective";

    public const string FleetStateTag = "bulkhead.fleet.state";

    public const string SignalTag = "bulkhead.signal";

    private static readonly (WorkloadFleetState State, string Name)[] FleetStateNames =
        [(WorkloadFleetState.Coordinated, "coordinated"), (WorkloadFleetState.LocalShare, "local_share"), (WorkloadFleetState.Closed, "closed"), (WorkloadFleetState.Strict, "strict")];

    /// <summary>One lease in this many has its seat-holding time measured (two clock reads cost more than the rest of an admission).</summary>
    public const int SeatDurationSampling = 16;

    private static readonly double[] s_durationBuckets =
        [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

    private static readonly string[] s_reasonNames = Enum.GetValues<WorkloadRejectionReason>().Select(ReasonName).ToArray();

    private readonly Func<WorkloadSnapshot> _snapshot;

    public WorkloadIsolationMetrics(Meter meter, Func<WorkloadSnapshot> snapshot)
    {
        _snapshot = snapshot;
        var advice = new InstrumentAdvice<double> { HistogramBucketBoundaries = s_durationBuckets };

        QueueDuration = meter.CreateHistogram(
            "bulkhead.work.queue.duration",
            unit: "s",
            description: "How long units of work waited in their class's queue, by how the wait ended (admitted, rejected, canceled); work admitted at once never waits and is not recorded.",
            tags: null,
            advice: advice);
        SeatDuration = meter.CreateHistogram(
            "bulkhead.work.seat.duration",
            unit: "s",
            description: $"How long units of work held a seat of their class, measured on one lease in {SeatDurationSampling}.",
            tags: null,
            advice: advice);

        meter.CreateObservableUpDownCounter("bulkhead.work.active", () => PerClass(c => c.InFlight), "{work}", "Units of work holding a seat of their class.");
        meter.CreateObservableUpDownCounter("bulkhead.work.queued", () => PerClass(c => c.Queued), "{work}", "Units of work waiting for a seat of their class.");
        meter.CreateObservableGauge("bulkhead.work.queue.oldest_wait", ObserveOldestWait, "s", "How long the longest waiting unit of work of each class has waited (0 when none waits).");
        meter.CreateObservableGauge("bulkhead.work.demand_ratio", ObserveDemand, "1", "Units of work of each class holding or waiting for a seat, divided by the most it may hold at once now: above 1, its work queues. A scaling signal for an autoscaler.");
        meter.CreateObservableCounter("bulkhead.work.decisions", ObserveDecisions, "{work}", "How admission ended for each unit of work: admitted, rejected (with the reason), canceled while waiting, or let through exempt.");
        meter.CreateObservableCounter("bulkhead.work.execution_timeouts", () => PerClass(c => c.ExecutionTimeouts), "{work}", "Units of work that held their seat past their class's execution timeout.");
        meter.CreateObservableUpDownCounter("bulkhead.work.overrunning", () => PerClass(c => c.Overrunning), "{work}", "Units of work holding their seat past the execution timeout now.");
        meter.CreateObservableCounter("bulkhead.work.fallbacks", ObserveFallbacks, "{work}", "Units of work that ran in the default class: they named a class that is not configured, or one removed since.");
        meter.CreateObservableGauge("bulkhead.limit", ObserveLimits, "{work}", "Limits in force: each class's effective and configured max, reserved and queue limits, and the shared pool.");
        meter.CreateObservableGauge("bulkhead.objective.target", ObserveObjectiveTargets, "s", "The objectives of classes that state one, while adaptive protection runs.");
        meter.CreateObservableGauge("bulkhead.objective.measured", ObserveObjectives, "s", "The 99th percentile adaptive protection measured for each objective in the last window it closed.");
        meter.CreateObservableUpDownCounter("bulkhead.dedicated_threads", () => PerClass(c => c.DedicatedThreads), "{thread}", "Dedicated threads of each class, those added to recover from starvation included.");
        meter.CreateObservableCounter("bulkhead.dedicated_threads.starvations", () => PerClass(c => c.ThreadStarvations), "{event}", "Times every dedicated thread of a class was found blocked while work waited for one.");
        meter.CreateObservableCounter("bulkhead.job.items", ObserveJobOutcomes, "{item}", "Job items that ended, by outcome: completed, failed, dropped (never ran: the host stopped), canceled (shutdown timeout).");
        meter.CreateObservableUpDownCounter("bulkhead.job.items.pending", ObserveJobsPending, "{item}", "Job items accepted and not ended, by state: waiting for a seat, or running.");
        meter.CreateObservableGauge("bulkhead.pressure", ObservePressure, "1", "The process's pressure as last read, while a class sheds under it: CPU utilization (of the CPU it may use) and memory load (of what the GC may commit), 0 to 1.");
        meter.CreateObservableGauge("bulkhead.shed", ObserveShed, "{state}", "1 for each class shed under pressure now (its work rejected, its background work waiting), 0 for the others; while a class sheds under pressure.");
        meter.CreateObservableGauge("bulkhead.fleet.state", ObserveFleetStates, "{state}", "Where each class with fleet-wide limits has them decided now: 1 for its state (coordinated, local_share or closed), 0 for the others.");
    }

    public Histogram<double> QueueDuration { get; }

    public Histogram<double> SeatDuration { get; }

    public static string ReasonName(WorkloadRejectionReason reason) => reason switch
    {
        WorkloadRejectionReason.QueueFull => "queue_full",
        WorkloadRejectionReason.QueueTimeout => "queue_timeout",
        WorkloadRejectionReason.RateLimited => "rate_limited",
        WorkloadRejectionReason.ShuttingDown => "shutting_down",
        WorkloadRejectionReason.WeightTooLarge => "weight_too_large",
        WorkloadRejectionReason.DeadlineExceeded => "deadline_exceeded",
        WorkloadRejectionReason.Shed => "shed",
        _ => reason.ToString(),
    };

    /// <summary>Records how long a waiter waited and how its wait ended; called outside the engine's lock.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    public void RecordQueueDuration(ClassState c, TimeSpan waited, WaitOutcome outcome)
    {
        double seconds = waited.TotalSeconds;
        KeyValuePair<string, object?> workloadClass = new(ClassTag, c.Name);
        switch (outcome)
        {
            case WaitOutcome.Granted:
                QueueDuration.Record(seconds, workloadClass, new(ResultTag, "admitted"));
                break;
            case WaitOutcome.Canceled:
                QueueDuration.Record(seconds, workloadClass, new(ResultTag, "canceled"));
                break;
            default:
                WorkloadRejectionReason reason = outcome switch
                {
                    WaitOutcome.TimedOut => WorkloadRejectionReason.QueueTimeout,
                    WaitOutcome.PastDeadline => WorkloadRejectionReason.DeadlineExceeded,
                    WaitOutcome.Evicted => WorkloadRejectionReason.QueueFull,
                    WaitOutcome.Shed => WorkloadRejectionReason.Shed,
                    _ => WorkloadRejectionReason.ShuttingDown,
                };
                QueueDuration.Record(seconds, workloadClass, new(ResultTag, "rejected"), new(ReasonTag, s_reasonNames[(int)reason]));
                break;
        }
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    public void RecordSeatDuration(ClassState c, TimeSpan held) =>
        SeatDuration.Record(held.TotalSeconds, new KeyValuePair<string, object?>(ClassTag, c.Name));

    private static KeyValuePair<string, object?> Class(WorkloadClassSnapshot c) => new(ClassTag, c.Name);

    /// <summary>Job series exist only for classes that had job items: most classes never do.</summary>
    private static bool HasJobs(WorkloadClassSnapshot c) => !ReferenceEquals(c.Jobs, WorkloadJobCounts.None);

    private List<Measurement<long>> PerClass(Func<WorkloadClassSnapshot, long> value) =>
        [.. _snapshot().Classes.Select(c => new Measurement<long>(value(c), Class(c)))];

    /// <summary>Demand over capacity per class; a class that may hold no seat now (a removed class draining) reports its units of work, so any work still reads as at least 1.</summary>
    private List<Measurement<double>> ObserveDemand() =>
        [.. _snapshot().Classes.Select(c => new Measurement<double>(
            c.MaxConcurrency > 0 ? (c.InFlight + c.Queued) / (double)c.MaxConcurrency : c.InFlight + c.Queued,
            Class(c)))];

    private List<Measurement<double>> ObserveOldestWait() =>
        [.. _snapshot().Classes.Select(c => new Measurement<double>(c.OldestWaiterAge?.TotalSeconds ?? 0, Class(c)))];

    private List<Measurement<long>> ObserveDecisions()
    {
        WorkloadSnapshot snapshot = _snapshot();
        List<Measurement<long>> measurements = [new(snapshot.Exempt, new KeyValuePair<string, object?>(ResultTag, "exempt"))];
        foreach (WorkloadClassSnapshot c in snapshot.Classes)
        {
            measurements.Add(new(c.Admitted, Class(c), new(ResultTag, "admitted")));
            measurements.Add(new(c.Canceled, Class(c), new(ResultTag, "canceled")));
            foreach ((WorkloadRejectionReason reason, long count) in c.RejectedByReason)
            {
                measurements.Add(new(count, Class(c), new(ResultTag, "rejected"), new(ReasonTag, s_reasonNames[(int)reason])));
            }
        }

        return measurements;
    }

    private List<Measurement<long>> ObserveFallbacks()
    {
        WorkloadSnapshot snapshot = _snapshot();
        KeyValuePair<string, object?> defaultClass = new(ClassTag, snapshot.Classes.FirstOrDefault(c => c.IsDefault)?.Name);
        return
        [
            new(snapshot.UnknownClassFallbacks, defaultClass, new(FallbackReasonTag, "unknown_class")),
            new(snapshot.RemovedClassFallbacks, defaultClass, new(FallbackReasonTag, "removed_class")),
        ];
    }

    private List<Measurement<long>> ObserveLimits()
    {
        WorkloadSnapshot snapshot = _snapshot();
        List<Measurement<long>> measurements = [new(snapshot.SharedPool, new KeyValuePair<string, object?>(LimitTag, "pool"))];
        foreach (WorkloadClassSnapshot c in snapshot.Classes)
        {
            measurements.Add(new(c.MaxConcurrency, Class(c), new(LimitTag, "max")));
            measurements.Add(new(c.ConfiguredMaxConcurrency, Class(c), new(LimitTag, "configured_max")));
            measurements.Add(new(c.ReservedConcurrency, Class(c), new(LimitTag, "reserved")));
            measurements.Add(new(c.QueueLimit, Class(c), new(LimitTag, "queue")));
        }

        return measurements;
    }

    private List<Measurement<int>> ObserveFleetStates()
    {
        List<Measurement<int>> measurements = [];
        foreach (WorkloadClassSnapshot c in _snapshot().Classes)
        {
            if (c.FleetState is { } state)
            {
                foreach ((WorkloadFleetState each, string name) in FleetStateNames)
                {
                    measurements.Add(new(each == state ? 1 : 0, Class(c), new(FleetStateTag, name)));
                }
            }
        }

        return measurements;
    }

    private List<Measurement<double>> ObservePressure() => _snapshot().Pressure is { } reading
        ? [new(reading.CpuUtilization, new KeyValuePair<string, object?>(SignalTag, "cpu")), new(reading.MemoryLoad, new KeyValuePair<string, object?>(SignalTag, "memory"))]
        : [];

    private List<Measurement<int>> ObserveShed()
    {
        WorkloadSnapshot snapshot = _snapshot();
        return snapshot.Pressure is null ? [] : [.. snapshot.Classes.Select(c => new Measurement<int>(c.ShedBy is null ? 0 : 1, Class(c)))];
    }

    private List<Measurement<double>> ObserveObjectiveTargets() => ObserveObjectives(static s => s.ThreadPoolDelayObjective, static c => (c.QueueWaitObjective, c.SeatTimeObjective));

    private List<Measurement<double>> ObserveObjectives() => ObserveObjectives(static s => s.MeasuredThreadPoolDelayP99, static c => (c.MeasuredQueueWaitP99, c.MeasuredSeatTimeP99));

    /// <summary>
    /// One measurement per objective: the process's ThreadPool delay (no class tag), then each class's queue wait and
    /// seat time, as <paramref name="process"/> and <paramref name="select"/> read them.
    /// </summary>
    private List<Measurement<double>> ObserveObjectives(Func<WorkloadSnapshot, TimeSpan?> process, Func<WorkloadClassSnapshot, (TimeSpan? QueueWait, TimeSpan? SeatTime)> select)
    {
        List<Measurement<double>> measurements = [];
        WorkloadSnapshot snapshot = _snapshot();
        if (process(snapshot) is { } delay)
        {
            measurements.Add(new(delay.TotalSeconds, new KeyValuePair<string, object?>(ObjectiveTag, "threadpool_delay_p99")));
        }

        foreach (WorkloadClassSnapshot c in snapshot.Classes)
        {
            (TimeSpan? queueWait, TimeSpan? seatTime) = select(c);
            foreach ((string objective, TimeSpan? value) in new[] { ("queue_wait_p99", queueWait), ("seat_time_p99", seatTime) })
            {
                if (value is { } seconds)
                {
                    measurements.Add(new(seconds.TotalSeconds, Class(c), new(ObjectiveTag, objective)));
                }
            }
        }

        return measurements;
    }

    private List<Measurement<long>> ObserveJobOutcomes()
    {
        List<Measurement<long>> measurements = [];
        foreach (WorkloadClassSnapshot c in _snapshot().Classes.Where(HasJobs))
        {
            WorkloadJobCounts jobs = c.Jobs;
            measurements.Add(new(jobs.Completed, Class(c), new(JobOutcomeTag, "completed")));
            measurements.Add(new(jobs.Failed, Class(c), new(JobOutcomeTag, "failed")));
            measurements.Add(new(jobs.Dropped, Class(c), new(JobOutcomeTag, "dropped")));
            measurements.Add(new(jobs.Canceled, Class(c), new(JobOutcomeTag, "canceled")));
        }

        return measurements;
    }

    private List<Measurement<long>> ObserveJobsPending()
    {
        List<Measurement<long>> measurements = [];
        foreach (WorkloadClassSnapshot c in _snapshot().Classes.Where(HasJobs))
        {
            measurements.Add(new(c.Jobs.Waiting, Class(c), new(JobStateTag, "waiting")));
            measurements.Add(new(c.Jobs.Running, Class(c), new(JobStateTag, "running")));
        }

        return measurements;
    }
}
