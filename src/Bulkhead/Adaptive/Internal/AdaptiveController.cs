using System.Globalization;
using Bulkhead.Admission.Internal;
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

    private readonly AdmissionEngine _engine;
    private readonly ILogger _logger;
    private readonly Lock _lock = new();
    private readonly Dictionary<string, Watch> _watches = new(StringComparer.OrdinalIgnoreCase);
    private readonly Dictionary<string, int> _limits = new(StringComparer.OrdinalIgnoreCase);
    private readonly LatencyHistogram _poolDelays = new();
    private readonly Watch _poolWatch = new();
    private ITimer? _probe;
    private int _probing;
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
    public void Configure(WorkloadIsolationOptions options)
    {
        bool release;
        lock (_lock)
        {
            if (_disposed)
            {
                return;
            }

            _options = options.Adaptive;
            release = !_options.Enabled && _limits.Count > 0;
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
                _probe ??= _engine.TimeProvider.CreateTimer(static state => ((AdaptiveController)state!).Probe(), this, ProbeInterval, ProbeInterval);
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
                _timer ??= _engine.TimeProvider.CreateTimer(static state => ((AdaptiveController)state!).Tick(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
                _timer.Change(_window, _window);
            }
        }

        if (release)
        {
            // Switched off: every class gets its configured limit back.
            _engine.SetEffectiveMaxima(new Dictionary<string, int>());
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

    /// <summary>One window: measure, decide, and put changed limits in force.</summary>
    public void Tick()
    {
        Dictionary<string, int>? changed = null;
        lock (_lock)
        {
            if (_disposed || !_options.Enabled)
            {
                return;
            }

            Dictionary<string, WorkloadClassSnapshot> snapshot = _engine.GetSnapshot().ToDictionary(c => c.Name, StringComparer.OrdinalIgnoreCase);
            if (_settling)
            {
                // The window after a change mixes work admitted under the old limits (still running) with the new:
                // it is not measured, or one change would be judged twice and limits would fall too far.
                _settling = false;
                _poolDelays.CopyTo(_poolWatch.SeatBefore);
                foreach (ClassState c in _engine.Configuration.Active)
                {
                    if (_watches.TryGetValue(c.Name, out Watch? watch) && snapshot.TryGetValue(c.Name, out WorkloadClassSnapshot? state))
                    {
                        watch.Restart(c, state.Admitted);
                    }
                }

                return;
            }
            List<(int Priority, Verdict Verdict, double Ratio, string Reason)> protectors = [];
            foreach (ClassState c in _engine.Configuration.Active)
            {
                if (c.Limits.Objective is { } objective && snapshot.TryGetValue(c.Name, out WorkloadClassSnapshot? state))
                {
                    (Verdict verdict, double ratio, string reason) = Measure(c, objective, state);
                    protectors.Add((c.Limits.Priority, verdict, ratio, reason));
                }
            }

            if (_options.ThreadPoolDelayP99 is { } poolTarget && _engine.Configuration.Active.Length > 0)
            {
                // The process's objective protects the most important classes: everything below them follows it.
                (Verdict verdict, double ratio, string reason) = MeasurePool(poolTarget);
                protectors.Add((_engine.Configuration.Active.Min(c => c.Limits.Priority), verdict, ratio, reason));
            }

            foreach (string name in _watches.Keys.Where(n => !_engine.Configuration.Active.Any(c => c.Limits.Objective is not null && string.Equals(c.Name, n, StringComparison.OrdinalIgnoreCase))).ToList())
            {
                _watches.Remove(name);
            }

            bool any = false;
            foreach (ClassState c in _engine.Configuration.Active)
            {
                any |= Adjust(c, snapshot[c.Name], protectors);
            }

            if (any)
            {
                changed = new Dictionary<string, int>(_limits, StringComparer.OrdinalIgnoreCase);
                _settling = true;
            }
        }

        if (changed is not null)
        {
            _engine.SetEffectiveMaxima(changed);
        }
    }

    private (Verdict Verdict, double Ratio, string Reason) Measure(ClassState c, WorkloadObjectiveOptions objective, WorkloadClassSnapshot state)
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

    /// <summary>Queues a work item and measures how long the ThreadPool takes to run it; one probe at a time.</summary>
    private void Probe()
    {
        if (Interlocked.CompareExchange(ref _probing, 1, 0) != 0)
        {
            return;
        }

        long queued = _engine.TimeProvider.GetTimestamp();
        ThreadPool.UnsafeQueueUserWorkItem(
            static state =>
            {
                state.Controller.RecordPoolDelay(state.Controller._engine.TimeProvider.GetElapsedTime(state.Queued));
                Volatile.Write(ref state.Controller._probing, 0);
            },
            (Controller: this, Queued: queued),
            preferLocal: false);
    }

    private (Verdict Verdict, double Ratio, string Reason) MeasurePool(TimeSpan target)
    {
        _poolDelays.CopyTo(_poolWatch.SeatNow);
        long samples = LatencyHistogram.Count(_poolWatch.SeatNow, _poolWatch.SeatBefore);
        if (samples < _options.MinSamples)
        {
            return (Verdict.Pending, 0, "too few ThreadPool probes");
        }

        TimeSpan p99 = LatencyHistogram.Quantile(_poolWatch.SeatNow, _poolWatch.SeatBefore, 0, Percentile)!.Value;
        Volatile.Write(ref _lastPoolDelayP99, p99.Ticks);
        _poolWatch.Advance(0);
        double ratio = p99.Ticks / (double)target.Ticks;
        Verdict verdict = ratio > 1 ? Verdict.Missed : ratio <= _options.Headroom ? Verdict.Good : Verdict.Hold;
        _poolWatch.GoodWindows = verdict == Verdict.Good ? _poolWatch.GoodWindows + 1 : 0;
        string reason = string.Create(CultureInfo.InvariantCulture, $"ThreadPool delay p99 {p99.TotalMilliseconds:0.###} ms against {target.TotalMilliseconds:0.###} ms over {samples} probes");
        return (verdict == Verdict.Good && _poolWatch.GoodWindows < GoodWindowsBeforeIncrease ? Verdict.Hold : verdict, ratio, reason);
    }

    /// <summary>Moves one class's limit by the verdicts of the classes more important than it; true when it changed.</summary>
    private bool Adjust(ClassState c, WorkloadClassSnapshot state, List<(int Priority, Verdict Verdict, double Ratio, string Reason)> protectors)
    {
        int priority = c.Limits.Priority;
        var above = protectors.Where(p => p.Priority < priority).ToList();
        int configured = c.Limits.ConfiguredMax;
        int current = _limits.TryGetValue(c.Name, out int held) ? held : configured;
        if (above.Count == 0)
        {
            // Nothing protects itself from this class (any more): its configured limit.
            return _limits.Remove(c.Name);
        }

        int floor = Math.Min(Math.Max(c.Limits.Reserved, 1), configured);
        int next = current;
        string reason;
        if (above.Any(p => p.Verdict == Verdict.Missed))
        {
            (_, _, double ratio, reason) = above.Where(p => p.Verdict == Verdict.Missed).MaxBy(p => p.Ratio);
            double factor = _options.Algorithm == WorkloadAdaptiveAlgorithm.Gradient ? Math.Clamp(1 / ratio, 0.5, 1.0) : _options.DecreaseFactor;
            next = Math.Min(current - 1, (int)Math.Floor(current * factor));
        }
        else if (above.All(p => p.Verdict == Verdict.Good) && (state.Queued > 0 || state.InFlight >= state.MaxConcurrency))
        {
            double ratio = above.Max(p => p.Ratio);
            reason = "objectives met with headroom while it uses every seat it has";
            next = _options.Algorithm == WorkloadAdaptiveAlgorithm.Gradient
                ? Math.Max(current + 1, (int)Math.Ceiling(current * (ratio > 0 ? Math.Clamp(_options.Headroom / ratio, 1.0, 2.0) : 2.0)))
                : current + _options.IncreaseStep;
        }
        else
        {
            return false;
        }

        next = Math.Clamp(next, floor, configured);
        if (next == current)
        {
            return false;
        }

        LogAdjusted(_logger, c.Name, next, configured, current, reason);
        if (next == configured)
        {
            _limits.Remove(c.Name);
        }
        else
        {
            _limits[c.Name] = next;
        }

        return true;
    }

    [LoggerMessage(60, LogLevel.Debug, "Adaptive protection: workload class '{WorkloadClass}' may run {Max} of its configured {Configured} (was {Previous}): {Reason}.")]
    private static partial void LogAdjusted(ILogger logger, string workloadClass, int max, int configured, int previous, string reason);

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
