using System.Globalization;
using Bulkhead.Admission.Internal;
using Bulkhead.Pressure.Internal;
using Microsoft.Extensions.Time.Testing;
using Xunit.Sdk;

namespace Bulkhead.Tests.Admission;

/// <summary>
/// Drives the engine with random acquire, try-acquire, release, double-release, cancel, time and reconfiguration steps,
/// over classes with priorities, reservations, partitions (per-partition limits, fair turns) and rate limits, and after
/// every step compares it with <see cref="AdmissionModel"/> (a plain sequential statement of the admission rules) and
/// checks the invariants of docs/design.md directly on the engine's state. Reconfiguration steps apply random valid
/// configurations: limits raised and lowered below what is in flight, classes added, removed (draining) and added back.
/// Adaptive steps set a class's effective limit as the adaptive controller does (kept between its reservation, or one
/// seat, and its configured limit, and lasting across reconfigurations); the model sees them as that limit configured.
/// One reconfiguration in five switches adaptive protection off: the engine forgets every effective limit and ignores
/// those set while it stays off (a controller's tick that lands after the switch-off), until one switches it on again.
/// A quarter of the units carry their caller's deadline (some already passed). Every fourth step the turns within each
/// class (partitions in turn order, the turns each owes, the next waiter) are compared too: they once differed for
/// thousands of steps before an outcome showed it (a removed class the engine forgot kept the turns it owed in the model).
/// </summary>
/// <remarks>
/// Set BULKHEAD_MODEL_SEED to replay one seed. Sequentially, a released seat is handed to a waiter before anyone else
/// can ask for it, so the engine's guards against overtaking under races (the fast path stepping aside, the pump's
/// pool-blocked flag) are redundant here; the concurrent stress test exercises them.
/// </remarks>
public sealed class AdmissionEngineModelTests
{
    private const int StepsPerSeed = 100_000;

    private static readonly string?[] PartitionKeys = [null, "a", "b", "c"];

    // Whether the run in progress puts every key of one length in one overflow partition (the tests of this class run
    // one at a time).
    private static bool s_collide;

    static AdmissionEngineModelTests()
    {
        // A run must depend on its seed alone, not on the process's randomized string hash (which decides which keys
        // share an overflow partition): FNV-1a, which puts the four keys in four partitions; or, in the colliding runs,
        // the key's length, which puts "a", "b" and "c" in one.
        Bulkhead.Queuing.Internal.PartitionedWaitQueue.OverflowHash = static key =>
        {
            if (s_collide)
            {
                return key.Length;
            }

            uint hash = 2166136261;
            foreach (char c in key)
            {
                hash = (hash ^ c) * 16777619;
            }

            return (int)hash;
        };
    }

    public static TheoryData<int> Seeds()
    {
        string? replay = Environment.GetEnvironmentVariable("BULKHEAD_MODEL_SEED");
        return replay is null ? new TheoryData<int> { 1, 2, 3 } : new TheoryData<int> { int.Parse(replay, CultureInfo.InvariantCulture) };
    }

    [Theory]
    [MemberData(nameof(Seeds))]
    public void RandomSteps_MatchTheModelAndKeepEveryInvariant(int seed) => RunSeed(seed, collide: false);

    /// <summary>Keys that share an overflow partition: the engine and the model must still agree on every outcome.</summary>
    [Theory]
    [MemberData(nameof(Seeds))]
    public void RandomSteps_WithKeysSharingOverflowPartitions_MatchTheModel(int seed) => RunSeed(seed, collide: true);

    /// <summary>
    /// Units of work of random weights (half of them one seat, the others up to one seat more than the host has): every
    /// seat rule counts seats, wide heads keep their turn, partitions give up turns for the seats they took, and units
    /// wider than their class can ever seat are rejected at once.
    /// </summary>
    [Theory]
    [MemberData(nameof(Seeds))]
    public void RandomSteps_WithWeights_MatchTheModel(int seed) => RunSeed(seed, collide: false, weighted: true);

    private static void RunSeed(int seed, bool collide, bool weighted = false)
    {
        s_collide = collide;
        using var run = new Run(seed, weighted);
        int step = 0;
        try
        {
            for (; step < StepsPerSeed; step++)
            {
                run.Step();
            }

            run.Drain();

            // The backlog rule was exercised both ways: units granted with their partition's work behind them, and not.
            Assert.True(run.BackloggedGrants > 10, $"Only {run.BackloggedGrants} units were granted backlogged.");

            // Queue delay control was exercised: units started waiting in a standing queue.
            Assert.True(run.StandingArrivals > 10, $"Only {run.StandingArrivals} units started waiting in a standing queue.");

            // Shedding was exercised: arrivals refused, waiters sent away as their class was shed.
            Assert.True(run.ShedArrivals > 10 && run.ShedWaiters > 0, $"Only {run.ShedArrivals} arrivals and {run.ShedWaiters} waiters were shed.");
        }
        catch (Exception exception) when (exception is XunitException or InvalidOperationException)
        {
            throw new XunitException($"Model test failed with seed {seed}{(collide ? " (colliding keys)" : "")}{(weighted ? " (weights)" : "")} at step {step} (replay: BULKHEAD_MODEL_SEED={seed}). {run.Describe()}{Environment.NewLine}{exception.Message}");
        }
    }

    private sealed class Run : IDisposable
    {
        private readonly Random _random;
        private readonly Random _deadlines;
        private int _steps;
        private readonly FakeTimeProvider _time = new();
        private readonly WorkloadScheduler _scheduler;
        private readonly AdmissionModel _model;
        private readonly List<(int Id, string Class, WorkloadLease Lease)> _held = [];
        private readonly Dictionary<int, (Task<WorkloadLease> Task, CancellationTokenSource Cts)> _pending = [];
        private readonly Dictionary<string, int> _effectiveMaxima = new(StringComparer.OrdinalIgnoreCase);
        private readonly Dictionary<string, int> _holds = new(StringComparer.OrdinalIgnoreCase);
        private readonly Random _pressure;
        private string _configuration;
        private WorkloadIsolationOptions _options;
        private readonly bool _weighted;
        private string _lastStep = string.Empty;
        private readonly long _start;
        private int _nextId;

        public Run(int seed, bool weighted)
        {
            _random = new Random(seed);

            // Deadlines are drawn from a sequence of their own: the steps every seed had stay as they were.
            _deadlines = new Random(seed + 1_000_003);

            // So are the steps that shed classes under pressure.
            _pressure = new Random(seed + 2_000_003);
            _weighted = weighted;
            _start = Now;
            WorkloadIsolationOptions options = RandomOptions();
            options.Adaptive.Enabled = true;
            _options = options;
            _configuration = Describe(options);
            _scheduler = new WorkloadScheduler(options, _time);

            // The steps shed classes as the pressure monitor would; the monitor itself, reading this machine, must not.
            _scheduler.Pressure.Dispose();
            _model = new AdmissionModel(options, Now);
        }

        /// <summary>A random valid configuration over some of the names c0–c6 (so reconfigurations keep, drop and add classes).</summary>
        private WorkloadIsolationOptions RandomOptions()
        {
            // Few tracked partitions for four keys: some keys share hashed overflow partitions.
            var options = new WorkloadIsolationOptions { TotalConcurrency = _random.Next(4, 9), MaxTrackedPartitions = _random.Next(1, 5) };
            int reservedLeft = options.TotalConcurrency - 1;
            int[] priorities = [0, 1, 1, 2, 3];
            List<string> names = [.. Enumerable.Range(0, 7).Select(i => $"c{i}").OrderBy(_ => _random.Next())];
            int classCount = _random.Next(4, 6);
            foreach (string name in names.Take(classCount))
            {
                int reserved = Math.Min(reservedLeft, _random.Next(0, 3));
                reservedLeft -= reserved;
                options.AddClass(name, c =>
                {
                    c.Priority = priorities[_random.Next(priorities.Length)];
                    c.ReservedConcurrency = reserved;
                    c.MaxConcurrency = _random.Next(Math.Max(1, reserved), options.TotalConcurrency + 1);
                    c.QueueLimit = _random.Next(0, 6);
                    c.QueueTimeout = _random.Next(4) == 0 ? Timeout.InfiniteTimeSpan : TimeSpan.FromMilliseconds(_random.Next(0, 5_000));
                    c.QueueOrder = _random.Next(2) == 0 ? WorkloadQueueOrder.Fifo : WorkloadQueueOrder.Lifo;
                    c.MaxConcurrencyPerPartition = _random.Next(3) == 0 ? _random.Next(1, 3) : null;

                    // Chosen by name, drawing nothing from the random sequence: every seed keeps the steps it had.
                    c.Execution = name is "c1" or "c4" or "c6"
                        ? new WorkloadExecutionOptions { BackloggedPartitionCpuPriority = WorkloadCpuPriority.Lowest, BackloggedPartitionThreads = 1 }
                        : null;
                    c.Shed = name is "c1" or "c3" or "c5" ? new WorkloadShedOptions { CpuAbove = 0.9 } : null;

                    // Whole 64ths of a second, as the steps advance time by: a standing queue's waiters wait 250 ms.
                    c.QueueDelay = name is "c2" or "c5"
                        ? new WorkloadQueueDelayOptions { Target = TimeSpan.FromMilliseconds(250), Interval = TimeSpan.FromMilliseconds(500), LifoWhenStanding = name == "c2" }
                        : null;
                    c.RateLimit = _random.Next(3) == 0
                        ? new WorkloadRateLimitOptions { PermitsPerSecond = 1 << _random.Next(0, 3), Burst = _random.Next(1, 5), PerPartition = _random.Next(2) == 0 }
                        : null;
                });
            }

            options.DefaultClass = options.Classes.Keys.ElementAt(_random.Next(options.Classes.Count));
            return options;
        }

        private static string Describe(WorkloadIsolationOptions options) =>
            $"Total {options.TotalConcurrency}, tracked {options.MaxTrackedPartitions}, default {options.DefaultClass}, adaptive {(options.Adaptive.Enabled ? "on" : "off")}; " + string.Join("; ", options.Classes.Select(c =>
                $"{c.Key}: p{c.Value.Priority} r{c.Value.ReservedConcurrency} m{c.Value.MaxConcurrency} q{c.Value.QueueLimit} t{c.Value.QueueTimeout.TotalMilliseconds} {c.Value.QueueOrder}"
                + $" pp{c.Value.MaxConcurrencyPerPartition} rl{c.Value.RateLimit?.PermitsPerSecond}/{c.Value.RateLimit?.Burst}{(c.Value.RateLimit?.PerPartition == true ? "/partition" : "")}"));

        public void Dispose() => _scheduler.Dispose();

        private long Now => _time.GetUtcNow().UtcTicks;

        public string Describe() => $"Configuration in force: {_configuration}. Last steps:{Environment.NewLine}{string.Join(Environment.NewLine, _trace)}";

        // The last steps, for the failure message.
        private readonly Queue<string> _trace = new();

        private void Trace(string step)
        {
            _trace.Enqueue(step);
            if (_trace.Count > 40)
            {
                _trace.Dequeue();
            }
        }

        public void Step()
        {
            int dice = _random.Next(100);
            List<(int Id, AdmissionModel.Outcome Outcome)> expected;
            Before before = new(this);
            if (_random.Next(100) == 0)
            {
                // Waiters of removed classes join the default class's queue whatever its limit: nothing queued is lost.
                before.Reconfigured = true;
                expected = Reconfigure();
                if (_model.LastMoved.Count > 0 && _random.Next(2) == 0)
                {
                    // The caller of a waiter the reload just moved gives up at once: it ends canceled, and no seat is taken for it.
                    int moved = _model.LastMoved[_random.Next(_model.LastMoved.Count)];
                    expected = [.. expected, .. CancelWaiter(moved)];
                    _lastStep += $"; cancel moved #{moved}";
                }
            }
            else if (_random.Next(100) == 0)
            {
                before.Reconfigured = true;
                expected = SetEffectiveMax();
            }
            else if (_pressure.Next(60) == 0)
            {
                before.Reconfigured = true;
                expected = SetPressure();
            }
            else if (dice < 30)
            {
                expected = Acquire(wait: true);
            }
            else if (dice < 35)
            {
                expected = Acquire(wait: true, background: true);
            }
            else if (dice < 45)
            {
                expected = Acquire(wait: false);
            }
            else if (dice < 75)
            {
                expected = Release();
            }
            else if (dice < 80)
            {
                expected = ReleaseAgain();
            }
            else if (dice < 90)
            {
                expected = Cancel();
            }
            else
            {
                // Whole 64ths of a second: the model's token arithmetic and the engine's stay exact and equal.
                TimeSpan step = TimeSpan.FromTicks(_random.Next(0, 193) * (TimeSpan.TicksPerSecond / 64));
                _lastStep = $"advance {step.TotalMilliseconds} ms";
                _time.Advance(step);
                expected = _model.Advance(Now);
            }

            int shed = expected.Count(e => e.Outcome == AdmissionModel.Outcome.Shed);
            if (before.Reconfigured)
            {
                ShedWaiters += shed;
            }
            else
            {
                ShedArrivals += shed;
            }

            Trace($"  t{(Now - _start) / TimeSpan.TicksPerMillisecond} {_lastStep} -> [{string.Join(", ", expected)}]; in flight {string.Join(" ", _model.AllClasses.Select(m => $"{m.Name}:{m.InFlight}/q{m.Queued}"))}");
            _lastStep = "other";
            CompareCompletions(expected);
            CheckInvariants(expected, before);

            // Every fourth step: a difference in turns stays until it decides an outcome, and checking costs as much as the rest.
            if (++_steps % 4 == 0)
            {
                CheckTurns();
            }
        }

        /// <summary>
        /// The turns within each class, which decide whose work is served next: the partitions in turn order from the
        /// next one served, the turns each owes and its waiters, the turns the idle shared overflow partitions still
        /// owe, and the waiter served next. Outcomes alone can hide a difference here for thousands of steps.
        /// </summary>
        private void CheckTurns()
        {
            foreach (AdmissionModel.ModelClass m in _model.AllClasses)
            {
                if (!_scheduler.Engine.Configuration.ActiveByName.TryGetValue(m.Name, out ClassState? c))
                {
                    continue;
                }

                if (!m.RingFromCursor().Select(p => (p.Key, p.Debt, p.Queue.Count)).SequenceEqual(c.Queue.RingFromCursor().Select(p => (p.Key, p.Debt, p.Waiters.Count))))
                {
                    string modelTurns = string.Join(", ", m.RingFromCursor().Select(p => $"{p.Key} owes {p.Debt}, {p.Queue.Count} waiting"));
                    string engineTurns = string.Join(", ", c.Queue.RingFromCursor().Select(p => $"{p.Key} owes {p.Debt}, {p.Waiters.Count} waiting"));
                    Assert.Fail($"Turns of {m.Name}: model [{modelTurns}], engine [{engineTurns}].");
                }

                for (int i = 0; i < Bulkhead.Queuing.Internal.PartitionedWaitQueue.OverflowPartitions; i++)
                {
                    Assert.True(m.OverflowDebt(i) == c.Queue.OverflowDebt(i), $"Overflow partition {i} of {m.Name} owes {m.OverflowDebt(i)} turns in the model, {c.Queue.OverflowDebt(i)} in the engine.");
                }

                Waiter? next = c.Queue.PeekEligible();
                if (m.PeekEligible() is { } expectedNext ? next is null || !_pending.TryGetValue(expectedNext.Id, out var pending) || pending.Task != next.Task : next is not null)
                {
                    Assert.Fail($"Next served in {m.Name}: model #{m.PeekEligible()?.Id}, engine another.");
                }
            }
        }

        private List<(int, AdmissionModel.Outcome)> Reconfigure()
        {
            WorkloadIsolationOptions options = RandomOptions();

            // No class states an objective: the controller itself never moves a limit; the steps below do.
            options.Adaptive.Enabled = _random.Next(5) != 0;
            if (!options.Adaptive.Enabled)
            {
                _effectiveMaxima.Clear();
            }

            _options = options;
            _configuration = Describe(options);
            _lastStep = $"reconfigure: {_configuration}";
            List<(int, AdmissionModel.Outcome)> expected = _model.Reconfigure(Effective(options), Now, ConfiguredMaxima(options), Shed(options));
            _scheduler.Apply(options);
            return expected;
        }

        /// <summary>As the adaptive controller does: a class's effective limit, anywhere, even outside what the engine keeps.</summary>
        private List<(int, AdmissionModel.Outcome)> SetEffectiveMax()
        {
            string name = _options.Classes.Keys.ElementAt(_random.Next(_options.Classes.Count));
            if (!_options.Adaptive.Enabled)
            {
                // A tick that decided before the switch-off: nothing changes.
                _scheduler.Engine.SetEffectiveMaxima(new Dictionary<string, int> { [name] = _random.Next(0, _options.TotalConcurrency + 2) });
                return [];
            }

            if (_random.Next(4) == 0)
            {
                _effectiveMaxima.Remove(name);
            }
            else
            {
                _effectiveMaxima[name] = _random.Next(0, _options.TotalConcurrency + 2);
            }

            _configuration = Describe(_options) + $"; effective {string.Join(", ", _effectiveMaxima.Select(e => $"{e.Key} {e.Value}"))}";
            List<(int, AdmissionModel.Outcome)> expected = _model.Reconfigure(Effective(_options), Now, ConfiguredMaxima(_options), Shed(_options));
            _scheduler.Engine.SetEffectiveMaxima(_effectiveMaxima);
            return expected;
        }

        /// <summary>
        /// As the pressure monitor does: a class with a Shed rule shed, admitted again with a limit growing back, or freed
        /// (now and then all at once). Now
        /// and then a class without a rule is named: the engine does not shed it, as it does not for a monitor's tick that
        /// decided before a reload took the rule away (the limits are put in force again all the same, as after any
        /// change, and turns start afresh). The set lasts across reconfigurations, for the classes that keep the rule.
        /// </summary>
        private List<(int, AdmissionModel.Outcome)> SetPressure()
        {
            string[] ruled = [.. _options.Classes.Where(c => c.Value.Shed is not null).Select(c => c.Key)];
            if (ruled.Length == 0 || _pressure.Next(8) == 0)
            {
                string name = _options.Classes.Keys.ElementAt(_pressure.Next(_options.Classes.Count));
                _lastStep = $"shed {name} (has a rule: {_options.Classes[name].Shed is not null})";
                if (_options.Classes[name].Shed is null)
                {
                    Dictionary<string, PressureHold> unruled = Holds();
                    unruled[name] = new PressureHold(WorkloadPressureSignal.Memory, _pressure.Next(2) == 0 ? 0 : 1);
                    List<(int, AdmissionModel.Outcome)> unchanged = _model.Reconfigure(Effective(_options), Now, ConfiguredMaxima(_options), Shed(_options));
                    _scheduler.Engine.SetPressureHolds(unruled);
                    return unchanged;
                }
            }

            if (_pressure.Next(5) == 0)
            {
                _holds.Clear();
            }
            else if (ruled.Length > 0)
            {
                // Shed (0), or admitted again with a limit growing back, or free.
                string name = ruled[_pressure.Next(ruled.Length)];
                int choice = _pressure.Next(3);
                if (choice == 2)
                {
                    _holds.Remove(name);
                }
                else
                {
                    _holds[name] = choice == 0 ? 0 : _pressure.Next(1, _options.TotalConcurrency + 2);
                }
            }

            _lastStep = $"pressure [{string.Join(", ", _holds.Select(h => $"{h.Key} {h.Value}"))}]";
            _configuration = Describe(_options) + $"; effective {string.Join(", ", _effectiveMaxima.Select(e => $"{e.Key} {e.Value}"))}; pressure {string.Join(", ", _holds.Select(h => $"{h.Key} {h.Value}"))}";
            List<(int, AdmissionModel.Outcome)> expected = _model.Reconfigure(Effective(_options), Now, ConfiguredMaxima(_options), Shed(_options));
            _scheduler.Engine.SetPressureHolds(Holds());
            return expected;
        }

        private Dictionary<string, PressureHold> Holds() =>
            _holds.ToDictionary(h => h.Key, h => new PressureHold(WorkloadPressureSignal.Cpu, h.Value), StringComparer.OrdinalIgnoreCase);

        /// <summary>The classes shed now: those held to 0 that have a Shed rule in <paramref name="options"/>.</summary>
        private List<string> Shed(WorkloadIsolationOptions options) =>
            [.. _holds.Where(h => h.Value == 0 && options.Classes.TryGetValue(h.Key, out WorkloadClassOptions? c) && c.Shed is not null).Select(h => h.Key)];

        private static Dictionary<string, int?> ConfiguredMaxima(WorkloadIsolationOptions options) =>
            options.Classes.ToDictionary(c => c.Key, c => (int?)(c.Value.MaxConcurrency ?? options.TotalConcurrency), StringComparer.OrdinalIgnoreCase);

        /// <summary>The configuration the engine enforces: each effective limit kept between max(reserved, 1) and the configured limit.</summary>
        private WorkloadIsolationOptions Effective(WorkloadIsolationOptions options)
        {
            var effective = new WorkloadIsolationOptions { TotalConcurrency = options.TotalConcurrency, MaxTrackedPartitions = options.MaxTrackedPartitions, DefaultClass = options.DefaultClass };
            foreach ((string name, WorkloadClassOptions c) in options.Classes)
            {
                int configured = c.MaxConcurrency ?? options.TotalConcurrency;
                effective.AddClass(name, e =>
                {
                    (e.Priority, e.ReservedConcurrency, e.QueueLimit, e.QueueTimeout, e.QueueOrder) = (c.Priority, c.ReservedConcurrency, c.QueueLimit, c.QueueTimeout, c.QueueOrder);
                    e.QueueDelay = c.QueueDelay;
                    (e.MaxConcurrencyPerPartition, e.RateLimit, e.Execution) = (c.MaxConcurrencyPerPartition, c.RateLimit, c.Execution);
                    int inForce = _effectiveMaxima.TryGetValue(name, out int max)
                        ? Math.Clamp(max, Math.Min(Math.Max(c.ReservedConcurrency, 1), configured), configured)
                        : configured;

                    // Pressure holds a class with a rule to 0 (shed) or to a limit growing back, below the others.
                    e.MaxConcurrency = c.Shed is not null && _holds.TryGetValue(name, out int held) ? Math.Min(inForce, held) : inForce;
                });
            }

            return effective;
        }

        /// <summary>The shared seats and seats per class before a step: over a lowered limit, work finishes but none starts.</summary>
        private sealed class Before
        {
            public Before(Run run)
            {
                WorkloadClassSnapshot[] snapshot = [.. run._scheduler.GetSnapshot().Classes];
                Shared = run._scheduler.Engine.SharedInUse;
                InFlight = snapshot.ToDictionary(c => c.Name, c => c.InFlight, StringComparer.OrdinalIgnoreCase);
                ClientWaiters = snapshot.ToDictionary(c => c.Name, c => c.Queued - run._model.BackgroundQueued(c.Name), StringComparer.OrdinalIgnoreCase);
            }

            public int Shared { get; }

            public Dictionary<string, int> InFlight { get; }

            /// <summary>Gets the waiters that are not background work, by class.</summary>
            public Dictionary<string, int> ClientWaiters { get; }

            public bool Reconfigured { get; set; }
        }

        public void Drain()
        {
            foreach ((_, CancellationTokenSource cts) in _pending.Values.ToList())
            {
                cts.Cancel();
            }

            foreach (int id in _pending.Keys.ToList())
            {
                Assert.True(_pending[id].Task.IsCanceled || _pending[id].Task.IsCompletedSuccessfully, "Every waiter ends when canceled.");
                if (_pending[id].Task.IsCompletedSuccessfully)
                {
                    _pending[id].Task.Result.Dispose();
                }
            }

            _pending.Clear();
            foreach ((_, _, WorkloadLease lease) in _held)
            {
                lease.Dispose();
            }

            _held.Clear();
            Assert.All(_scheduler.GetSnapshot().Classes, c => Assert.Equal((c.Name, 0, 0), (c.Name, c.InFlight, c.Queued)));
            Assert.Equal(0, _scheduler.Engine.SharedInUse);
        }

        private List<(int, AdmissionModel.Outcome)> Acquire(bool wait, bool background = false)
        {
            string name = _model.ClassNames[_random.Next(_model.ClassNames.Count)];
            string? partition = PartitionKeys[_random.Next(PartitionKeys.Length)];
            int id = _nextId++;

            // Weighted runs: half the units take one seat (through either overload), the others 2 to one more than the host has.
            int weight = _weighted && _random.Next(2) == 0 ? _random.Next(2, _options.TotalConcurrency + 2) : 1;
            bool byWeight = _weighted && (weight > 1 || _random.Next(2) == 0);
            // A quarter of the units carry their caller's deadline: some already passed, most within the queue timeouts' range.
            TimeSpan? deadlineIn = _deadlines.Next(4) == 0 ? TimeSpan.FromTicks(_deadlines.Next(-2, 193) * (TimeSpan.TicksPerSecond / 64)) : null;
            DateTimeOffset? deadline = _time.GetUtcNow() + deadlineIn;
            _lastStep = $"acquire #{id} {name}/{partition ?? "-"} w{weight}{(wait ? "" : " try")}{(background ? " background" : "")}{(deadlineIn is { } d ? $" deadline {d.TotalMilliseconds} ms" : "")}";
            List<(int Id, AdmissionModel.Outcome Outcome)> expected = _model.Acquire(id, name, partition, wait, Now, background, weight, deadline?.UtcTicks);
            WorkloadClass handle = _scheduler.GetClass(name);
            bool asked = byWeight || deadline is not null;
            if (!wait)
            {
                WorkloadLease lease = asked ? handle.TryAcquire(new WorkloadRequest(partition) { Weight = weight, Deadline = deadline }) : _scheduler.TryAcquire(name, partition);
                Record(id, name, lease);
                return expected;
            }

            var cts = new CancellationTokenSource();
            Task<WorkloadLease> task = (background, asked) switch
            {
                (true, true) => handle.AcquireAsync(new WorkloadRequest(partition) { Weight = weight, Background = true, Deadline = deadline }, cts.Token).AsTask(),
                (true, false) => handle.AcquireAsync(new WorkloadRequest(partition) { Background = true }, cts.Token).AsTask(),
                (false, true) => handle.AcquireAsync(new WorkloadRequest(partition) { Weight = weight, Deadline = deadline }, cts.Token).AsTask(),
                (false, false) => _scheduler.AcquireAsync(name, partition, cts.Token).AsTask(),
            };
            if (task.IsCompleted)
            {
                Record(id, name, task.Result);
            }
            else
            {
                _pending.Add(id, (task, cts));
                Assert.Contains(expected, e => e.Id == id && e.Outcome == AdmissionModel.Outcome.Queued);
            }

            return expected;
        }

        private void Record(int id, string name, WorkloadLease lease)
        {
            (int Id, AdmissionModel.Outcome Outcome)? modelOutcome = null;
            if (lease.IsAcquired)
            {
                AssertBacklogged(id, lease);
                _held.Add((id, name, lease));
                modelOutcome = (id, AdmissionModel.Outcome.Granted);
            }
            else
            {
                modelOutcome = (id, ToOutcome(lease.RejectionReason));
                if (lease.RejectionReason == WorkloadRejectionReason.RateLimited)
                {
                    Assert.Equal(TimeSpan.FromTicks(_model.LastRetryAfterTicks), lease.RetryAfter);
                }
            }

            _observed.Add(modelOutcome.Value);
        }

        private readonly List<(int Id, AdmissionModel.Outcome Outcome)> _observed = [];

        public int BackloggedGrants => _model.BackloggedGrants.Count;

        public int StandingArrivals => _model.StandingArrivals;

        /// <summary>Gets how many arrivals were refused because their class was shed.</summary>
        public int ShedArrivals { get; private set; }

        /// <summary>Gets how many waiters left their queue because their class was shed.</summary>
        public int ShedWaiters { get; private set; }

        private void AssertBacklogged(int id, WorkloadLease lease) =>
            Assert.True(
                lease.IsBacklogged == _model.BackloggedGrants.Contains(id),
                $"Unit {id} of '{lease.WorkloadClass}': the engine says backlogged {lease.IsBacklogged}, the model {!lease.IsBacklogged}.");

        private List<(int, AdmissionModel.Outcome)> Release()
        {
            if (_held.Count == 0)
            {
                return [];
            }

            int index = _random.Next(_held.Count);
            (int id, _, WorkloadLease lease) = _held[index];
            _held.RemoveAt(index);
            _released.Add(lease);
            if (_released.Count > 16)
            {
                _released.RemoveAt(0);
            }

            _lastStep = $"release #{id}";
            WorkloadLease copy = lease;
            copy.Dispose();
            return _model.Release(id);
        }

        private readonly List<WorkloadLease> _released = [];

        /// <summary>Disposes a lease that was already disposed (a stale copy): nothing may change.</summary>
        private List<(int, AdmissionModel.Outcome)> ReleaseAgain()
        {
            if (_released.Count > 0)
            {
                _released[_random.Next(_released.Count)].Dispose();
            }

            return [];
        }

        private List<(int, AdmissionModel.Outcome)> Cancel()
        {
            if (_pending.Count == 0)
            {
                return [];
            }

            int id = _pending.Keys.ElementAt(_random.Next(_pending.Count));
            _lastStep = $"cancel #{id}";
            return CancelWaiter(id);
        }

        private List<(int, AdmissionModel.Outcome)> CancelWaiter(int id)
        {
            List<(int, AdmissionModel.Outcome)> expected = _model.Cancel(id);
            _pending[id].Cts.Cancel();
            return expected;
        }

        private void CompareCompletions(List<(int Id, AdmissionModel.Outcome Outcome)> expected)
        {
            foreach ((int id, (Task<WorkloadLease> task, CancellationTokenSource cts)) in _pending.ToList())
            {
                if (!task.IsCompleted)
                {
                    continue;
                }

                _pending.Remove(id);
                cts.Dispose();
                if (task.IsCanceled)
                {
                    _observed.Add((id, AdmissionModel.Outcome.Canceled));
                    continue;
                }

                WorkloadLease lease = task.Result;
                _observed.Add((id, lease.IsAcquired ? AdmissionModel.Outcome.Granted : ToOutcome(lease.RejectionReason)));
                if (lease.IsAcquired)
                {
                    AssertBacklogged(id, lease);
                    _held.Add((id, lease.WorkloadClass, lease));
                }
            }

            List<(int, AdmissionModel.Outcome)> wanted = [.. expected.Where(e => e.Outcome != AdmissionModel.Outcome.Queued).OrderBy(e => e.Id)];
            List<(int, AdmissionModel.Outcome)> seen = [.. _observed.OrderBy(e => e.Id)];
            _observed.Clear();
            Assert.True(wanted.SequenceEqual(seen), $"Expected completions [{string.Join(", ", wanted)}] but saw [{string.Join(", ", seen)}].");
        }

        private void CheckInvariants(List<(int Id, AdmissionModel.Outcome Outcome)> expected, Before before)
        {
            WorkloadClassSnapshot[] snapshot = [.. _scheduler.GetSnapshot().Classes];
            int pool = _scheduler.Engine.SharedPool;
            int shared = snapshot.Sum(c => Math.Max(0, c.InFlight - c.ReservedConcurrency));
            Assert.Equal(_model.Pool, pool);
            Assert.Equal(shared, _scheduler.Engine.SharedInUse);

            // Over a limit (only after a reconfiguration lowered it), nothing more starts until work is under it again. A
            // reconfiguration itself may turn seats in flight into shared ones (a lowered reservation); then none is added.
            int sharedBeforeStep = before.Reconfigured
                ? snapshot.Sum(c => Math.Max(0, before.InFlight.GetValueOrDefault(c.Name) - c.ReservedConcurrency))
                : before.Shared;
            Assert.True(shared <= pool || shared <= sharedBeforeStep, $"Shared seats in use ({shared}) grew past the pool ({pool}).");

            HashSet<string> visible = [.. _model.AllClasses.Where(m => !m.Removed || m.InFlight > 0 || m.Queued > 0).Select(m => m.Name)];
            Assert.True(visible.SetEquals(snapshot.Select(c => c.Name)), $"The snapshot shows [{string.Join(", ", snapshot.Select(c => c.Name))}], the model [{string.Join(", ", visible)}].");

            HashSet<string> grantedClasses = [.. expected.Where(e => e.Outcome == AdmissionModel.Outcome.Granted).Select(e => _model.ClassOf(e.Id))];
            foreach (WorkloadClassSnapshot c in snapshot)
            {
                AdmissionModel.ModelClass model = _model.Class(c.Name);
                Assert.True(c.InFlight == model.InFlight && c.Queued == model.Queued,
                    $"Class '{c.Name}': engine has {c.InFlight} in flight and {c.Queued} queued, the model {model.InFlight} and {model.Queued}.");
                Assert.Equal(model.Removed, c.IsDraining);
                Assert.True(c.InFlight <= c.MaxConcurrency || c.InFlight <= before.InFlight.GetValueOrDefault(c.Name), $"Class '{c.Name}' grew above its MaxConcurrency.");
                // Background waiters wait outside the limit; the work with a client waiting never exceeds it.
                int clientWaiters = c.Queued - _model.BackgroundQueued(c.Name);
                Assert.True(c.QueueLimit == 0 || clientWaiters <= c.QueueLimit || clientWaiters <= before.ClientWaiters.GetValueOrDefault(c.Name) || before.Reconfigured,
                    $"Class '{c.Name}' queues beyond its QueueLimit: {clientWaiters} client waiters of {c.Queued}, limit {c.QueueLimit}, before {before.ClientWaiters.GetValueOrDefault(c.Name)}.");
                if (model.PeekEligible() is { } head)
                {
                    // Waiters held back only by their partition's limit may wait below the reservation; others may not:
                    // a head that fits in the class's free reserved seats, or (when no waiter of this or a more important
                    // priority in another class could take them first) in the free shared seats, is never left waiting.
                    int seats = _model.SeatsFor(model, head.Weight);
                    int needShared = Math.Max(0, c.InFlight + seats - c.ReservedConcurrency) - Math.Max(0, c.InFlight - c.ReservedConcurrency);
                    bool fits = c.InFlight + seats <= c.MaxConcurrency;
                    Assert.False(fits && needShared == 0, $"Class '{c.Name}' waits while below its reservation.");
                    bool othersFirst = _model.AllClasses.Any(h => h != model && h.Priority <= model.Priority && _model.IsEntitled(h));
                    Assert.False(fits && shared + needShared <= pool && !othersFirst, $"Class '{c.Name}' waits while the seats it needs are free.");
                }

                ClassState state = (ClassState)_scheduler.Engine.Classes.Single(s => s.Name == c.Name);
                if (state.Limits.LimitsPartitions)
                {
                    foreach (string? key in PartitionKeys)
                    {
                        int engineInFlight = state.Queue.Find(key ?? string.Empty)?.InFlight ?? 0;
                        Assert.Equal(_model.PartitionInFlight(c.Name, key ?? string.Empty), engineInFlight);
                    }
                }

                if (grantedClasses.Contains(c.Name) && c.InFlight > c.ReservedConcurrency)
                {
                    WorkloadClassSnapshot? overtaken = snapshot.FirstOrDefault(h => h.Priority < c.Priority && _model.Class(h.Name).PeekEligible() is { } waiting
                        && _model.IsEntitled(_model.Class(h.Name)) && h.InFlight + _model.SeatsFor(_model.Class(h.Name), waiting.Weight) > h.ReservedConcurrency);
                    Assert.True(overtaken is null, $"Class '{c.Name}' got a shared seat while more important class '{overtaken?.Name}' waited for one.");
                }
            }
        }

        private static AdmissionModel.Outcome ToOutcome(WorkloadRejectionReason? reason) => reason switch
        {
            WorkloadRejectionReason.QueueFull => AdmissionModel.Outcome.QueueFull,
            WorkloadRejectionReason.QueueTimeout => AdmissionModel.Outcome.QueueTimeout,
            WorkloadRejectionReason.RateLimited => AdmissionModel.Outcome.RateLimited,
            WorkloadRejectionReason.WeightTooLarge => AdmissionModel.Outcome.WeightTooLarge,
            WorkloadRejectionReason.DeadlineExceeded => AdmissionModel.Outcome.DeadlineExceeded,
            WorkloadRejectionReason.Shed => AdmissionModel.Outcome.Shed,
            _ => throw new InvalidOperationException($"Unexpected rejection {reason}."),
        };
    }
}
