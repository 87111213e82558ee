using System.Globalization;
using Bulkhead.Admission.Internal;
using Bulkhead.Timing.Internal;
using Microsoft.Extensions.Logging;

namespace Bulkhead.Pressure.Internal;

/// <summary>
/// Sheds classes under pressure: every <see cref="WorkloadPressureOptions.Interval"/> reads the process's CPU
/// utilization and memory load, and puts in force (<see cref="AdmissionEngine.SetShed"/>) the classes whose
/// <see cref="WorkloadClassOptions.Shed"/> thresholds they reach. A class shed by a signal is admitted again once the
/// signal falls <see cref="WorkloadPressureOptions.Hysteresis"/> below its threshold. Reads nothing while no class has a
/// rule. Runs on the engine's <see cref="TimeProvider"/> and on a thread of its own (a starved ThreadPool must not
/// silence it); tests give it a probe and drive it with fake time.
/// </summary>
internal sealed partial class PressureMonitor : IDisposable
{
    private readonly AdmissionEngine _engine;
    private readonly ILogger _logger;
    private readonly Lock _lock = new();

    // By class, the signals that shed it now (both may).
    private readonly Dictionary<string, (bool Cpu, bool Memory)> _shed = new(StringComparer.OrdinalIgnoreCase);
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
            Decide();
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
            Decide();
            if (_shed.Values.Any(s => s.Memory))
            {
                // Memory the work that ended freed is counted until the GC collects it: let the next reading see it gone.
                _probe.Reclaim();
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

    /// <summary>Which classes the last reading sheds, each signal with its hysteresis; changes are put in force, then logged.</summary>
    private void Decide()
    {
        WorkloadPressureReading? reading = _last;
        double hysteresis = _options.Pressure.Hysteresis;
        var next = new Dictionary<string, (bool Cpu, bool Memory)>(StringComparer.OrdinalIgnoreCase);
        foreach ((string name, WorkloadClassOptions c) in _options.Classes)
        {
            if (c.Shed is not { } rule || reading is null)
            {
                continue;
            }

            (bool wasCpu, bool wasMemory) = _shed.GetValueOrDefault(name);
            bool cpu = Reaches(reading.CpuUtilization, rule.CpuAbove, wasCpu, hysteresis);
            bool memory = Reaches(reading.MemoryLoad, rule.MemoryAbove, wasMemory, hysteresis);
            if (cpu || memory)
            {
                next[name] = (cpu, memory);
            }
        }

        if (next.Count == _shed.Count && next.All(n => _shed.TryGetValue(n.Key, out var was) && was == n.Value))
        {
            return;
        }

        List<(string Name, bool Shed, string Reason)> changes = [];
        foreach ((string name, (bool cpu, bool memory)) in next)
        {
            if (!_shed.ContainsKey(name))
            {
                WorkloadShedOptions rule = _options.Classes[name].Shed!;
                changes.Add((name, true, memory ? Describe("memory load", reading!.MemoryLoad, rule.MemoryAbove) : Describe("CPU utilization", reading!.CpuUtilization, rule.CpuAbove)));
            }
        }

        foreach (string name in _shed.Keys.Where(n => !next.ContainsKey(n)))
        {
            changes.Add((name, false, reading is null ? "its rule was removed" : string.Create(CultureInfo.InvariantCulture, $"CPU utilization {reading.CpuUtilization:P0}, memory load {reading.MemoryLoad:P0}")));
        }

        _shed.Clear();
        foreach ((string name, (bool, bool) signals) in next)
        {
            _shed[name] = signals;
        }

        _engine.SetShed(next.ToDictionary(n => n.Key, n => n.Value.Memory ? WorkloadPressureSignal.Memory : WorkloadPressureSignal.Cpu, StringComparer.OrdinalIgnoreCase));

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

    /// <summary>Whether a signal sheds: at or above its threshold, or, for a class it sheds already, not yet <paramref name="hysteresis"/> below it.</summary>
    private static bool Reaches(double value, double? threshold, bool shedAlready, double hysteresis) =>
        threshold is { } t && value >= (shedAlready ? t - hysteresis : t);

    [LoggerMessage(61, LogLevel.Warning, "Workload class '{WorkloadClass}' is shed under pressure: {Reason}. Its work is rejected; its background work waits.")]
    private static partial void LogShed(ILogger logger, string workloadClass, string reason);

    [LoggerMessage(62, LogLevel.Information, "Workload class '{WorkloadClass}' is admitted again: {Reason}.")]
    private static partial void LogAdmittedAgain(ILogger logger, string workloadClass, string reason);
}
