using System.Globalization;
using Bulkhead.Admission.Internal;
using Bulkhead.Timing.Internal;
using Microsoft.Extensions.Logging;

namespace Bulkhead.Pressure.Internal;

/// <summary>
/// Sheds classes under pressure: every <see cref="WorkloadPressureOptions.Interval"/> reads the process's CPU
/// utilization and memory load, and puts in force (<see cref="AdmissionEngine.SetPressureHolds"/>) the classes whose
/// <see cref="WorkloadClassOptions.Shed"/> thresholds they reach. A class shed by a signal is admitted again once the
/// signal falls <see cref="WorkloadPressureOptions.Hysteresis"/> below its threshold, its limit growing back over a few
/// readings. Reads nothing while no class has a
/// rule. Runs on the engine's <see cref="TimeProvider"/> and on a thread of its own (a starved ThreadPool must not
/// silence it); tests give it a probe and drive it with fake time.
/// </summary>
internal sealed partial class PressureMonitor : IDisposable
{
    private readonly AdmissionEngine _engine;
    private readonly ILogger _logger;
    private readonly Lock _lock = new();

    /// <summary>Readings a shed class's limit takes to grow back to its configured limit once admitted again.</summary>
    public const int GrowBackReadings = 8;

    /// <summary>
    /// The most calm readings in a row a limit growing back waits for before each step: each time a class is shed
    /// again while growing back, it waits for twice as many, up to this (exponential backoff, as a sender whose
    /// retransmissions keep failing waits longer each time); free of pressure again, it forgets.
    /// </summary>
    public const int MaxPatience = 16;

    // By class with a rule, the signals that shed it now (both may) and what pressure holds it to.
    private readonly Dictionary<string, ClassPressure> _state = new(StringComparer.OrdinalIgnoreCase);
    private WorkloadIsolationOptions _options = new();
    private PressureProbe? _probe;
    private ITimer? _timer;
    private TimeSpan _interval;
    private WorkloadPressureReading? _last;
    private bool _disposed;

    public PressureMonitor(AdmissionEngine engine, ILogger logger)
    {
        _engine = engine;
        _logger = logger;
    }

    /// <summary>Gets or sets what reads the pressure; the process's own unless a test gives another. Made when first needed.</summary>
    public PressureProbe Probe
    {
        get
        {
            lock (_lock)
            {
                return _probe ??= new PressureProbe();
            }
        }

        set
        {
            lock (_lock)
            {
                _probe = value;
            }
        }
    }

    /// <summary>Gets the last reading while some class sheds under pressure, or <see langword="null"/>.</summary>
    public WorkloadPressureReading? LastReading => Volatile.Read(ref _last);

    /// <summary>Takes the options in force (at start and after each reload): starts, moves or stops the readings, and decides again on the last one.</summary>
    public void Configure(WorkloadIsolationOptions options)
    {
        lock (_lock)
        {
            if (_disposed)
            {
                return;
            }

            _options = options;
            bool sheds = options.Classes.Values.Any(c => c.Shed is not null);
            if (!sheds)
            {
                _timer?.Dispose();
                _timer = null;
                Volatile.Write(ref _last, null);
            }
            else if (_timer is null || _interval != options.Pressure.Interval)
            {
                _interval = options.Pressure.Interval;
                _probe ??= new PressureProbe();
                _timer ??= TimerThread.Create(_engine.TimeProvider, static state => ((PressureMonitor)state!).TickGuarded(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan, "Bulkhead pressure");
                _timer.Change(_interval, _interval);
            }

            // Thresholds may have moved, and classes or their rules come and gone: decide again on what was last read.
            Decide(reading: false);
        }
    }

    /// <summary>One reading, and the classes it sheds put in force.</summary>
    public void Tick()
    {
        lock (_lock)
        {
            if (_disposed || _timer is null)
            {
                return;
            }

            PressureSample sample = (_probe ??= new PressureProbe()).Read();
            Volatile.Write(ref _last, new WorkloadPressureReading
            {
                CpuUtilization = sample.Cpu,
                MemoryLoad = sample.Memory,
                AllocatedBytesPerSecond = sample.AllocatedBytesPerSecond,
                CpuCapacity = sample.CpuCapacity,
                MemoryLimitBytes = sample.MemoryLimitBytes,
                ReadAt = _engine.TimeProvider.GetUtcNow(),
            });
            Decide(reading: true);
            if (_state.Values.Any(s => s.Hold is { Sheds: true, Signal: WorkloadPressureSignal.Memory }))
            {
                // Memory the work that ended freed is counted until the GC collects it: let the next reading see it gone.
                _probe.Reclaim(ReclaimAfter(_interval));
            }
        }
    }

    public void Dispose()
    {
        lock (_lock)
        {
            _disposed = true;
            _timer?.Dispose();
        }
    }

    private void TickGuarded() => _engine.TimerFaults.Run("pressure", static state => ((PressureMonitor)state!).Tick(), this);

    /// <summary>
    /// What the last reading holds each class with a rule to, each signal with its hysteresis; changes are put in force,
    /// then logged. A class shed is admitted again at the work it still runs (at least one seat), and its limit grows
    /// by an eighth of its configured limit (at least one seat) up to half of what it ran when shed, then by one seat
    /// (<see cref="Grown"/>), until it is free again, on a reading taken wholly under
    /// the limit in force while every signal is the hysteresis below its threshold and the class uses its limit: the
    /// work refused meanwhile does not all start at once, bringing the pressure straight back (a memory-heavy class
    /// would take the heap past its limit between two readings).
    /// </summary>
    /// <param name="reading">Whether a reading was just taken (limits grow back only on readings, not on a reload).</param>
    private void Decide(bool reading)
    {
        WorkloadPressureReading? last = _last;
        double hysteresis = _options.Pressure.Hysteresis;
        var next = new Dictionary<string, ClassPressure>(StringComparer.OrdinalIgnoreCase);
        List<(string Name, bool Shed, string Reason)> changes = [];
        foreach ((string name, WorkloadClassOptions c) in _options.Classes)
        {
            if (c.Shed is not { } rule || last is null)
            {
                continue;
            }

            ClassPressure was = _state.GetValueOrDefault(name);
            bool cpu = Reaches(last.CpuUtilization, rule.CpuAbove, was.Cpu, hysteresis);
            bool memory = Reaches(last.MemoryLoad, rule.MemoryAbove, was.Memory, hysteresis);
            PressureHold? hold = null;
            bool settling = false;
            bool used = false;
            int shedAt = was.ShedAt;
            int patience = Math.Max(1, was.Patience);
            int calmReadings = was.Calm;
            if (cpu || memory)
            {
                hold = new PressureHold(memory ? WorkloadPressureSignal.Memory : WorkloadPressureSignal.Cpu, 0);
                if (was.Hold is not { Sheds: true })
                {
                    // What the class ran when the pressure came: its limit grows back quickly to half of it, then by
                    // one seat a reading.
                    shedAt = Math.Max(1, InFlight(name));

                    // Shed again while growing back: its last step brought the pressure back, so the next ones wait
                    // for twice as long a calm.
                    patience = was.Hold is { Sheds: false } ? Math.Min(MaxPatience, patience * 2) : 1;
                    changes.Add((name, true, memory ? Describe("memory load", last.MemoryLoad, rule.MemoryAbove) : Describe("CPU utilization", last.CpuUtilization, rule.CpuAbove)));
                }
            }
            else if (was.Hold is { } held)
            {
                int configured = Math.Max(1, c.MaxConcurrency ?? _options.TotalConcurrency);
                int step = Math.Max(1, (int)Math.Ceiling(configured / (double)GrowBackReadings));
                bool calm = !Reaches(last.CpuUtilization, rule.CpuAbove, shedAlready: true, hysteresis) && !Reaches(last.MemoryLoad, rule.MemoryAbove, shedAlready: true, hysteresis);
                // A limit just put in force is judged on a whole reading taken under it, not on the one that overlaps the
                // change (as adaptive protection does with its windows): a reading started before the class was
                // admitted again shows the pressure of no work at all, and growing on it overshoots.
                // And, as adaptive protection's limits, it grows only while the class uses it (every seat taken, or work
                // waiting), at the reading before and at this one, so that the reading shows the pressure of the class at
                // its limit: a limit does not drift up while nothing tests it.
                used = !held.Sheds && UsesItsLimit(name, held.Max);
                calmReadings = !reading ? was.Calm : calm && !was.Settling && used ? was.Calm + 1 : 0;
                bool grow = reading && calmReadings >= patience && was.Used;
                int max = held.Sheds ? Math.Max(1, InFlight(name)) : grow ? Grown(held.Max, step, was.ShedAt) : held.Max;
                settling = held.Sheds || grow;
                calmReadings = settling ? 0 : calmReadings;
                hold = max >= configured ? null : held with { Max = max };
                if (held.Sheds)
                {
                    changes.Add((name, false, string.Create(CultureInfo.InvariantCulture, $"CPU utilization {last.CpuUtilization:P0}, memory load {last.MemoryLoad:P0}; its limit grows back from {max} to {configured}, by {step} a reading up to {SlowFrom(shedAt)} (half of the {shedAt} it ran when shed), then by 1{(patience > 1 ? $", after {patience} calm readings in a row each (it was shed again while growing back)" : "")}")));
                }
            }

            if (cpu || memory || hold is not null)
            {
                next[name] = new ClassPressure(cpu, memory, hold, Settling: settling || (!reading && was.Settling), Used: reading ? used : was.Used, ShedAt: shedAt, Calm: calmReadings, Patience: patience);
            }
        }

        foreach ((string name, ClassPressure was) in _state)
        {
            if (!next.ContainsKey(name) && was.Hold is { Sheds: true })
            {
                changes.Add((name, false, "its rule was removed"));
            }
        }

        bool changed = next.Count != _state.Count || next.Any(n => !_state.TryGetValue(n.Key, out ClassPressure was) || was.Hold != n.Value.Hold);
        _state.Clear();
        foreach ((string name, ClassPressure pressure) in next)
        {
            _state[name] = pressure;
        }

        if (!changed)
        {
            return;
        }

        _engine.SetPressureHolds(next.Where(n => n.Value.Hold is not null).ToDictionary(n => n.Key, n => n.Value.Hold!.Value, StringComparer.OrdinalIgnoreCase));

        // Logged once in force: a logger that fails cannot leave the monitor and the engine apart.
        foreach ((string name, bool shed, string reason) in changes)
        {
            if (shed)
            {
                LogShed(_logger, name, reason);
            }
            else
            {
                LogAdmittedAgain(_logger, name, reason);
            }
        }

        string Describe(string signal, double value, double? threshold) =>
            string.Create(CultureInfo.InvariantCulture, $"{signal} {value:P0} is at or above {threshold:P0}; admitted again below {threshold - hysteresis:P0}");
    }

    /// <summary>
    /// How long the GC may go without a full collection while a class is shed by memory: a second, or a reading if
    /// longer. Measured in the pressure scenario (readings every 50 ms): asking after 200 ms served 2.4 times the
    /// reports of a second but took the interactive p99 to 2.3 times its baseline, after 500 ms 1.8 times and 1.65
    /// times; after a second it stayed at 1.24 times.
    /// </summary>
    public static TimeSpan ReclaimAfter(TimeSpan interval) => TimeSpan.FromTicks(Math.Max(interval.Ticks, TimeSpan.TicksPerSecond));

    /// <summary>
    /// A limit growing back, one step on: by <paramref name="step"/> (an eighth of the configured limit) up to half of
    /// what the class ran when it was last shed, then by one seat, as TCP's congestion window grows back after a loss
    /// (quickly to half the window that met it, then a segment a round trip). Where the class ran enough to bring the
    /// pressure, a limit grows back to it slowly, so that a noisy reading under it does not let a step's worth of work
    /// start at once and bring the pressure straight back: measured with CPU-heavy reports, an eighth of 32 seats let
    /// 5 reports start on 2 cores.
    /// </summary>
    internal static int Grown(int max, int step, int shedAt) =>
        max < SlowFrom(shedAt) ? Math.Min(SlowFrom(shedAt), max + step) : max + 1;

    /// <summary>Where a limit growing back slows to one seat a reading: half of what the class ran when it was shed.</summary>
    private static int SlowFrom(int shedAt) => Math.Max(1, shedAt / 2);

    /// <summary>The units of work of a class in flight now.</summary>
    private int InFlight(string name) => _engine.Configuration.ActiveByName.TryGetValue(name, out ClassState? c) ? c.InFlight : 0;

    /// <summary>Whether a class uses a limit of <paramref name="max"/>: every seat taken, or work waiting.</summary>
    private bool UsesItsLimit(string name, int max) =>
        _engine.Configuration.ActiveByName.TryGetValue(name, out ClassState? c) && (c.InFlight >= max || c.Queue.Count > 0);

    /// <summary>Whether a signal sheds: at or above its threshold, or, for a class it sheds already, not yet <paramref name="hysteresis"/> below it.</summary>
    private static bool Reaches(double value, double? threshold, bool shedAlready, double hysteresis) =>
        threshold is { } t && value >= (shedAlready ? t - hysteresis : t);

    [LoggerMessage(61, LogLevel.Warning, "Workload class '{WorkloadClass}' is shed under pressure: {Reason}. Its work is rejected; its background work waits.")]
    private static partial void LogShed(ILogger logger, string workloadClass, string reason);

    [LoggerMessage(62, LogLevel.Information, "Workload class '{WorkloadClass}' is admitted again: {Reason}.")]
    private static partial void LogAdmittedAgain(ILogger logger, string workloadClass, string reason);

    /// <summary>One class's pressure: the signals that shed it now, and what it is held to (shed, or a limit growing back).</summary>
    /// <param name="Cpu">Whether the CPU sheds it now.</param>
    /// <param name="Memory">Whether memory sheds it now.</param>
    /// <param name="Hold">What it is held to, or <see langword="null"/>.</param>
    /// <param name="Settling">Whether its limit changed at the last reading: the next reading is taken under it and only then judged.</param>
    /// <param name="Used">Whether the class used its limit at the last reading.</param>
    /// <param name="ShedAt">The units of work the class ran when it was last shed (at least 1); 0 before it was.</param>
    /// <param name="Calm">The calm readings in a row taken wholly under its limit in force while it used it.</param>
    /// <param name="Patience">The calm readings in a row its limit needs to grow a step: 1, doubled each time it is shed again while growing back (at most <see cref="MaxPatience"/>).</param>
    private readonly record struct ClassPressure(bool Cpu, bool Memory, PressureHold? Hold, bool Settling = false, bool Used = false, int ShedAt = 0, int Calm = 0, int Patience = 1);
}
