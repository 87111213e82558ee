using System.Globalization;
using Bulkhead.Admission.Internal;
using Bulkhead.Timing.Internal;
using Microsoft.Extensions.Logging;

namespace Bulkhead.Adaptive.Internal;

/// <summary>
/// Adaptive protection: every window, measures the 99th percentiles of the protected classes' queue waits and
/// seat-holding times against their objectives, and moves the effective <c>MaxConcurrency</c> of the classes less
/// important than them (<see cref="AdmissionEngine.SetEffectiveMaxima"/>), between each one's reservation and its
/// configured limit. Runs on the engine's <see cref="TimeProvider"/>, so tests drive it with fake time.
/// </summary>
internal sealed partial class AdaptiveController : IDisposable
{
    /// <summary>Windows in a row that must meet every objective with headroom before limits grow.</summary>
    public const int GoodWindowsBeforeIncrease = 2;

    /// <summary>How often the ThreadPool's queueing delay is probed when the process has that objective.</summary>
    public static readonly TimeSpan ProbeInterval = TimeSpan.FromMilliseconds(5);

    private const double Percentile = 0.99;

    /// <summary>The value of <c>_probeQueuedAt</c> while no probe is in the ThreadPool's queue (no clock reads zero).</summary>
    private const long NoProbe = 0;

    private readonly AdmissionEngine _engine;
    private readonly ILogger _logger;
    private readonly Lock _lock = new();
    private readonly Dictionary<string, Watch> _watches = new(StringComparer.OrdinalIgnoreCase);
    private readonly Dictionary<string, int> _limits = new(StringComparer.OrdinalIgnoreCase);
    private readonly LatencyHistogram _poolDelays = new();
    private readonly Watch _poolWatch = new();
    private ITimer? _probe;
    private long _probeQueuedAt = NoProbe;
    private long _lastPoolDelayP99 = -1;
    private WorkloadAdaptiveOptions _options = new();
    private ITimer? _timer;
    private TimeSpan _window;
    private bool _settling;
    private bool _disposed;

    public AdaptiveController(AdmissionEngine engine, ILogger logger)
    {
        _engine = engine;
        _logger = logger;

        // The probe measures how real threads are scheduled: under a fake clock it would measure nothing.
        ProbesThreadPool = engine.TimeProvider == TimeProvider.System;
    }

    /// <summary>Gets or sets a value indicating whether the ThreadPool is probed (tests feed <see cref="RecordPoolDelay"/> instead).</summary>
    public bool ProbesThreadPool { get; set; }

    private enum Verdict
    {
        /// <summary>Too few measures yet: the window goes on.</summary>
        Pending,

        /// <summary>An objective was missed.</summary>
        Missed,

        /// <summary>Met, but without headroom: limits hold.</summary>
        Hold,

        /// <summary>Met with headroom (or nothing to measure).</summary>
        Good,
    }

    /// <summary>Gets the limits the controller holds classes to now, by class name.</summary>
    public IReadOnlyDictionary<string, int> Limits
    {
        get
        {
            lock (_lock)
            {
                return new Dictionary<string, int>(_limits, StringComparer.OrdinalIgnoreCase);
            }
        }
    }

    /// <summary>Takes the adaptive settings in force (at start and after each reload), starting or stopping the controller.</summary>
    /// <remarks>
    /// Switched off, the controller forgets its limits; the engine gives every class its configured limit back as it
    /// takes the same options (it holds no controller limit while adaptive protection is off, whatever a tick sends).
    /// </remarks>
    public void Configure(WorkloadIsolationOptions options)
    {
        lock (_lock)
        {
            if (_disposed)
            {
                return;
            }

            _options = options.Adaptive;
            if (!_options.Enabled || _options.ThreadPoolDelayP99 is null)
            {
                // No objective, nothing measured against it: the last measure is not shown any more.
                Volatile.Write(ref _lastPoolDelayP99, -1);
            }

            if (!_options.Enabled || _options.ThreadPoolDelayP99 is null || !ProbesThreadPool)
            {
                _probe?.Dispose();
                _probe = null;
            }
            else
            {
                // The probe and the tick run on a thread of their own: a starved ThreadPool must not silence them.
                _probe ??= TimerThread.Create(_engine.TimeProvider, static state => ((AdaptiveController)state!).ProbeGuarded(), this, ProbeInterval, ProbeInterval, "Bulkhead ThreadPool probe");
            }

            if (!_options.Enabled)
            {
                _timer?.Dispose();
                _timer = null;
                _watches.Clear();
                _limits.Clear();
            }
            else if (_timer is null || _window != _options.Window)
            {
                _window = _options.Window;
                _timer ??= TimerThread.Create(_engine.TimeProvider, static state => ((AdaptiveController)state!).TickGuarded(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan, "Bulkhead adaptive protection");
                _timer.Change(_window, _window);
            }
        }
    }

    public void Dispose()
    {
        lock (_lock)
        {
            _disposed = true;
            _timer?.Dispose();
            _probe?.Dispose();
        }
    }

    /// <summary>One window: measure, decide, and put changed limits in force. A class shed under pressure admits nothing, so its use of its limit says nothing: it does not grow.</summary>
    /// <remarks>
    /// Everything is read from one configuration and one snapshot, and the limits go to the engine under the
    /// controller's lock: a reload that adds or removes classes meanwhile, or switches the controller off, finds the
    /// tick either done or not yet begun.
    /// </remarks>
    public void Tick()
    {
        lock (_lock)
        {
            if (_disposed || !_options.Enabled)
            {
                return;
            }

            ClassState[] active = _engine.Configuration.Active;
            Dictionary<ClassState, ClassLoad> snapshot = _engine.ReadLoads();
            if (_settling)
            {
                // The window after a change mixes work admitted under the old limits (still running) with the new:
                // it is not measured, or one change would be judged twice and limits would fall too far.
                _settling = false;
                _poolDelays.CopyTo(_poolWatch.SeatBefore);
                foreach (ClassState c in active)
                {
                    if (_watches.TryGetValue(c.Name, out Watch? watch) && snapshot.TryGetValue(c, out ClassLoad state))
                    {
                        watch.Restart(c, state.Admitted);
                    }
                }

                return;
            }

            List<(int Priority, Verdict Verdict, double Ratio, string Reason)> protectors = [];
            foreach (ClassState c in active)
            {
                if (c.Limits.Objective is { } objective && snapshot.TryGetValue(c, out ClassLoad state))
                {
                    (Verdict verdict, double ratio, string reason) = Measure(c, objective, state);
                    protectors.Add((c.Limits.Priority, verdict, ratio, reason));
                }
            }

            if (_options.ThreadPoolDelayP99 is { } poolTarget && active.Length > 0)
            {
                // The process's objective protects the most important classes: everything below them follows it.
                (Verdict verdict, double ratio, string reason) = MeasurePool(poolTarget);
                protectors.Add((active.Min(c => c.Limits.Priority), verdict, ratio, reason));
            }

            foreach (string name in _watches.Keys.Where(n => !active.Any(c => c.Limits.Objective is not null && string.Equals(c.Name, n, StringComparison.OrdinalIgnoreCase))).ToList())
            {
                _watches.Remove(name);
            }

            List<Adjustment> adjustments = [];
            foreach (ClassState c in active)
            {
                if (snapshot.TryGetValue(c, out ClassLoad state) && Adjust(c, state, protectors) is { } adjustment)
                {
                    adjustments.Add(adjustment);
                }
            }

            if (adjustments.Count > 0)
            {
                _settling = true;
                _engine.SetEffectiveMaxima(new Dictionary<string, int>(_limits, StringComparer.OrdinalIgnoreCase));

                // Logged once in force: a logger that fails cannot leave the controller's limits and the engine's apart.
                foreach (Adjustment a in adjustments.Where(a => a.Reason is not null))
                {
                    LogAdjusted(_logger, a.Class, a.Max, a.Configured, a.Previous, a.Reason!);
                }
            }
        }
    }

    private void TickGuarded() => _engine.TimerFaults.Run("adaptive protection", static state => ((AdaptiveController)state!).Tick(), this);

    private (Verdict Verdict, double Ratio, string Reason) Measure(ClassState c, WorkloadObjectiveOptions objective, ClassLoad state)
    {
        if (!_watches.TryGetValue(c.Name, out Watch? watch))
        {
            // The first window starts now.
            watch = new Watch();
            watch.Restart(c, state.Admitted);
            _watches.Add(c.Name, watch);
            return (Verdict.Pending, 0, "first window");
        }

        List<(string Name, TimeSpan Target, TimeSpan? P99, long Samples, bool QueueWait)> measures = [];
        if (objective.QueueWaitP99 is { } queueTarget && c.QueueWaits is { } queueWaits)
        {
            queueWaits.CopyTo(watch.QueueNow);
            long admitted = state.Admitted - watch.Admitted;
            long waited = LatencyHistogram.Count(watch.QueueNow, watch.QueueBefore);
            TimeSpan? p99 = LatencyHistogram.Quantile(watch.QueueNow, watch.QueueBefore, admitted - waited, Percentile);
            measures.Add(("queue wait", queueTarget, p99, Math.Max(admitted, waited), true));
        }

        if (objective.SeatTimeP99 is { } seatTarget && c.SeatTimes is { } seatTimes)
        {
            seatTimes.CopyTo(watch.SeatNow);
            long held = LatencyHistogram.Count(watch.SeatNow, watch.SeatBefore);
            measures.Add(("seat time", seatTarget, LatencyHistogram.Quantile(watch.SeatNow, watch.SeatBefore, 0, Percentile), held, false));
        }

        double worst = 0;
        string reason = "no work to measure";
        bool pending = false;

        // A window short of samples goes on while work comes; a window in which none came closes as idle.
        long total = measures.Sum(m => m.Samples);
        bool idle = total == watch.SamplesSoFar;
        watch.SamplesSoFar = total;
        foreach ((string name, TimeSpan target, TimeSpan? p99, long samples, _) in measures)
        {
            if (samples == 0)
            {
                continue;
            }

            if (samples < _options.MinSamples)
            {
                pending |= !idle;
                continue;
            }

            double ratio = p99!.Value.Ticks / (double)target.Ticks;
            if (ratio >= worst)
            {
                worst = ratio;
                reason = string.Create(CultureInfo.InvariantCulture, $"'{c.Name}' {name} p99 {p99.Value.TotalMilliseconds:0.###} ms against {target.TotalMilliseconds:0.###} ms over {samples} samples");
            }
        }

        Verdict verdict = worst > 1 ? Verdict.Missed : pending ? Verdict.Pending : worst <= _options.Headroom ? Verdict.Good : Verdict.Hold;
        if (verdict == Verdict.Pending)
        {
            return (verdict, worst, reason);
        }

        // The window closes: what was measured is shown (until a window measures again), and the next starts here.
        foreach ((_, _, TimeSpan? p99, long samples, bool queueWait) in measures)
        {
            if (samples >= _options.MinSamples && p99 is { } value)
            {
                Volatile.Write(ref queueWait ? ref c.LastQueueWaitP99 : ref c.LastSeatTimeP99, value.Ticks);
            }
        }

        watch.GoodWindows = verdict == Verdict.Good ? watch.GoodWindows + 1 : 0;
        watch.Advance(state.Admitted);
        return (verdict == Verdict.Good && watch.GoodWindows < GoodWindowsBeforeIncrease ? Verdict.Hold : verdict, worst, reason);
    }

    /// <summary>Gets the ThreadPool queueing delay's 99th percentile in the last window that measured it, or <see langword="null"/>.</summary>
    public TimeSpan? ThreadPoolDelayP99 => Volatile.Read(ref _lastPoolDelayP99) is >= 0 and long ticks ? TimeSpan.FromTicks(ticks) : null;

    /// <summary>Counts one ThreadPool queueing delay (the probe's measure; tests feed it directly).</summary>
    public void RecordPoolDelay(TimeSpan delay) => _poolDelays.Record(delay);

    /// <summary>
    /// Gets or sets how a probe is handed to the ThreadPool: it must call <see cref="ProbeRan"/> once it runs (tests hold
    /// it back to starve the pool).
    /// </summary>
    public Action<AdaptiveController> QueueProbe { get; set; } = static controller =>
        ThreadPool.UnsafeQueueUserWorkItem(static controller => controller.ProbeRan(), controller, preferLocal: false);

    /// <summary>Queues a work item and measures how long the ThreadPool takes to run it; one probe at a time.</summary>
    private void Probe()
    {
        if (Interlocked.CompareExchange(ref _probeQueuedAt, _engine.TimeProvider.GetTimestamp(), NoProbe) != NoProbe)
        {
            // The last probe has not run yet: its age is measured at the end of the window (OutstandingProbeAge).
            return;
        }

        QueueProbe(this);
    }

    private void ProbeGuarded() => _engine.TimerFaults.Run("ThreadPool probe", static state => ((AdaptiveController)state!).Probe(), this);

    /// <summary>The ThreadPool ran the probe: its queueing delay is one measure.</summary>
    public void ProbeRan()
    {
        long queuedAt = Volatile.Read(ref _probeQueuedAt);
        if (queuedAt != NoProbe)
        {
            RecordPoolDelay(_engine.TimeProvider.GetElapsedTime(queuedAt));
            Volatile.Write(ref _probeQueuedAt, NoProbe);
        }
    }

    /// <summary>Gets how long the probe in the ThreadPool's queue has waited so far: a lower bound on the pool's delay.</summary>
    private TimeSpan OutstandingProbeAge() =>
        Volatile.Read(ref _probeQueuedAt) is var queuedAt && queuedAt != NoProbe ? _engine.TimeProvider.GetElapsedTime(queuedAt) : TimeSpan.Zero;

    private (Verdict Verdict, double Ratio, string Reason) MeasurePool(TimeSpan target)
    {
        _poolDelays.CopyTo(_poolWatch.SeatNow);
        long samples = LatencyHistogram.Count(_poolWatch.SeatNow, _poolWatch.SeatBefore);

        // A probe still waiting has waited at least this long: a pool too starved to run probes gives no measures, and
        // its starvation must count all the same.
        TimeSpan outstanding = OutstandingProbeAge();
        if (samples < _options.MinSamples && outstanding <= target)
        {
            return (Verdict.Pending, 0, "too few ThreadPool probes");
        }

        TimeSpan measured = samples > 0 ? LatencyHistogram.Quantile(_poolWatch.SeatNow, _poolWatch.SeatBefore, 0, Percentile)!.Value : TimeSpan.Zero;
        TimeSpan p99 = outstanding > measured ? outstanding : measured;
        Volatile.Write(ref _lastPoolDelayP99, p99.Ticks);
        _poolWatch.Advance(0);
        double ratio = p99.Ticks / (double)target.Ticks;
        Verdict verdict = ratio > 1 ? Verdict.Missed : ratio <= _options.Headroom ? Verdict.Good : Verdict.Hold;
        _poolWatch.GoodWindows = verdict == Verdict.Good ? _poolWatch.GoodWindows + 1 : 0;
        string reason = outstanding > measured
            ? string.Create(CultureInfo.InvariantCulture, $"a ThreadPool probe has waited {outstanding.TotalMilliseconds:0.###} ms against {target.TotalMilliseconds:0.###} ms and has not run yet")
            : string.Create(CultureInfo.InvariantCulture, $"ThreadPool delay p99 {p99.TotalMilliseconds:0.###} ms against {target.TotalMilliseconds:0.###} ms over {samples} probes");
        return (verdict == Verdict.Good && _poolWatch.GoodWindows < GoodWindowsBeforeIncrease ? Verdict.Hold : verdict, ratio, reason);
    }

    /// <summary>Moves one class's limit by the verdicts of the classes more important than it; what changed, if it did.</summary>
    private Adjustment? Adjust(ClassState c, ClassLoad state, List<(int Priority, Verdict Verdict, double Ratio, string Reason)> protectors)
    {
        int priority = c.Limits.Priority;
        var above = protectors.Where(p => p.Priority < priority).ToList();
        int configured = c.Limits.ConfiguredMax;
        int current = _limits.TryGetValue(c.Name, out int held) ? held : configured;
        if (above.Count == 0)
        {
            // Nothing protects itself from this class (any more): its configured limit.
            return _limits.Remove(c.Name) ? new Adjustment(c.Name, configured, configured, current, Reason: null) : null;
        }

        int floor = Math.Min(Math.Max(c.Limits.Reserved, 1), configured);
        int next = current;
        string reason;
        if (above.Any(p => p.Verdict == Verdict.Missed))
        {
            (_, _, double ratio, reason) = above.Where(p => p.Verdict == Verdict.Missed).MaxBy(p => p.Ratio);
            double factor = _options.Algorithm == WorkloadAdaptiveAlgorithm.Gradient ? Math.Clamp(1 / ratio, 0.5, 1.0) : _options.Aimd.DecreaseFactor;
            next = Math.Min(current - 1, (int)Math.Floor(current * factor));
        }
        else if (above.All(p => p.Verdict == Verdict.Good) && c.Limits.ShedBy is null && (state.Queued > 0 || state.InFlight >= state.MaxConcurrency))
        {
            double ratio = above.Max(p => p.Ratio);
            reason = "objectives met with headroom while it uses every seat it has";
            next = _options.Algorithm == WorkloadAdaptiveAlgorithm.Gradient
                ? Math.Max(current + 1, (int)Math.Ceiling(current * (ratio > 0 ? Math.Clamp(_options.Headroom / ratio, 1.0, 2.0) : 2.0)))
                : current + _options.Aimd.IncreaseStep;
        }
        else
        {
            return null;
        }

        next = Math.Clamp(next, floor, configured);
        if (next == current)
        {
            return null;
        }

        if (next == configured)
        {
            _limits.Remove(c.Name);
        }
        else
        {
            _limits[c.Name] = next;
        }

        return new Adjustment(c.Name, next, configured, current, reason);
    }

    [LoggerMessage(60, LogLevel.Debug, "Adaptive protection: workload class '{WorkloadClass}' may run {Max} of its configured {Configured} (was {Previous}): {Reason}.")]
    private static partial void LogAdjusted(ILogger logger, string workloadClass, int max, int configured, int previous, string reason);

    /// <summary>One class's limit moved by a tick, to be logged (unless it went back to its configured limit for want of a protector).</summary>
    private sealed record Adjustment(string Class, int Max, int Configured, int Previous, string? Reason);

    /// <summary>A protected class's measures at the start of its window.</summary>
    private sealed class Watch
    {
        public long[] QueueBefore { get; private set; } = new long[LatencyHistogram.BucketCount];

        public long[] QueueNow { get; private set; } = new long[LatencyHistogram.BucketCount];

        public long[] SeatBefore { get; private set; } = new long[LatencyHistogram.BucketCount];

        public long[] SeatNow { get; private set; } = new long[LatencyHistogram.BucketCount];

        public long Admitted { get; private set; }

        public int GoodWindows { get; set; }

        /// <summary>Gets or sets the measures the window held at the last tick.</summary>
        public long SamplesSoFar { get; set; }

        public void Restart(ClassState c, long admitted)
        {
            c.QueueWaits?.CopyTo(QueueBefore);
            c.SeatTimes?.CopyTo(SeatBefore);
            Admitted = admitted;
            SamplesSoFar = 0;
        }

        /// <summary>The window that was just measured ends where the next begins: nothing recorded in between is lost.</summary>
        public void Advance(long admitted)
        {
            (QueueBefore, QueueNow) = (QueueNow, QueueBefore);
            (SeatBefore, SeatNow) = (SeatNow, SeatBefore);
            Admitted = admitted;
            SamplesSoFar = 0;
        }
    }
}
