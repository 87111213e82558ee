using System.Globalization;
using System.Threading.RateLimiting;
using Bulkhead.Execution.Internal;
using Bulkhead.Pressure.Internal;
using Bulkhead.RateLimiting.Internal;

namespace Bulkhead.Admission.Internal;

/// <summary>
/// Applies a new configuration to the running engine: limits are replaced, state carries over, nothing admitted or
/// queued is lost or counted twice.
/// </summary>
internal sealed partial class AdmissionEngine
{
    /// <summary>
    /// Puts a validated configuration in force. Seats in flight stay counted: a class over a lowered limit admits
    /// nothing more until it is under it, a raised limit serves waiters at once. A removed class drains: its work in
    /// flight finishes and frees its seats, its waiters move to the default class, and its handles send new work there.
    /// </summary>
    /// <param name="options">A configuration that passed validation.</param>
    /// <returns>What could not change live (dedicated threads), one sentence each, to be logged.</returns>
    public IReadOnlyList<string> Reconfigure(WorkloadIsolationOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);

        Waiter? completions = null;
        List<string> notes = [];
        lock (_lock)
        {
            if (_closed)
            {
                return notes;
            }

            _options = options;
            if (!options.Adaptive.Enabled)
            {
                // Switched off: the controller's limits go with it, and no tick computed before can bring them back.
                _effectiveMaxima.Clear();
            }

            ApplyUnsynchronized(options, notes, ref completions);
        }

        Complete(completions);
        return notes;
    }

    /// <summary>
    /// Puts the adaptive controller's limits in force: by class name, the most units of work in flight at once, kept
    /// between each class's reservation and its configured limit. A class not named gets its configured limit back. The
    /// limits last across reloads (clamped to the new configuration) until the controller sets others. While adaptive
    /// protection is off in the options in force, limits sent are ignored: a tick that lands after the switch-off (it
    /// decided before) cannot throttle a class for good.
    /// </summary>
    public void SetEffectiveMaxima(IReadOnlyDictionary<string, int> maxima)
    {
        ArgumentNullException.ThrowIfNull(maxima);
        Waiter? completions = null;
        lock (_lock)
        {
            if (_closed || !_options.Adaptive.Enabled)
            {
                return;
            }

            _effectiveMaxima = new Dictionary<string, int>(maxima, StringComparer.OrdinalIgnoreCase);
            ApplyUnsynchronized(_options, [], ref completions);
        }

        Complete(completions);
    }

    /// <summary>
    /// Puts in force what pressure holds classes to, by class name: shed, or a limit growing back once admitted again; a
    /// class not named is held to nothing. Only a class whose options have a <c>Shed</c> rule is held, so a reload that
    /// takes the rule away frees it whatever was sent before. Shed classes give no seat, their waiting work leaves with
    /// <see cref="WorkloadRejectionReason.Shed"/> and their background work waits; a limit growing back is one more
    /// limit, below the others in force. The holds last across reloads until others are sent.
    /// </summary>
    public void SetPressureHolds(IReadOnlyDictionary<string, PressureHold> holds)
    {
        ArgumentNullException.ThrowIfNull(holds);
        Waiter? completions = null;
        lock (_lock)
        {
            if (_closed)
            {
                return;
            }

            _pressureHolds = new Dictionary<string, PressureHold>(holds, StringComparer.OrdinalIgnoreCase);
            ApplyUnsynchronized(_options, [], ref completions);
        }

        Complete(completions);
    }

    private void ApplyUnsynchronized(WorkloadIsolationOptions options, List<string> notes, ref Waiter? completions)
    {
        EngineConfiguration next = Build(options, _configuration.Classes, notes);
        Volatile.Write(ref _configuration, next);
        MoveWaitersOfRemovedClassesUnsynchronized(next, TimeProvider.GetTimestamp());
        ShedWaitersUnsynchronized(next, ref completions);
        PublishUnsynchronized();
        PumpUnsynchronized(ref completions);
        AssertInvariantsUnsynchronized();
    }

    /// <summary>The limits a class gets from its options, the controller's limit for it, and whether it keeps an objective.</summary>
    private ClassLimits LimitsFor(int generation, string name, WorkloadClassOptions classOptions, WorkloadIsolationOptions options, int pool, PartitionedRateLimiter<string>? limiter) =>
        new(generation, classOptions, options.TotalConcurrency, pool, limiter,
            _effectiveMaxima.TryGetValue(name, out int effective) ? effective : null,
            options.Adaptive is { Enabled: true },
            options.Mode,
            _pressureHolds.TryGetValue(name, out PressureHold hold) ? hold : null);

    /// <summary>
    /// Makes the configuration: the classes it names (existing state kept, new limits published and every seat word
    /// moved to them) and the removed classes that still have state, draining.
    /// </summary>
    private EngineConfiguration Build(WorkloadIsolationOptions options, ClassState[] previous, List<string> notes)
    {
        int generation = ++_generation;
        KeyValuePair<string, WorkloadClassOptions>[] configured = options.Classes.Count > 0
            ? [.. options.Classes]
            : [new(options.DefaultClass, new WorkloadClassOptions())];
        int pool = options.TotalConcurrency - configured.Sum(pair => pair.Value.ReservedConcurrency);
        var remaining = previous.ToDictionary(c => c.Name, StringComparer.OrdinalIgnoreCase);
        List<ClassState> classes = [];

        foreach ((string name, WorkloadClassOptions classOptions) in configured)
        {
            if (remaining.Remove(name, out ClassState? existing))
            {
                PartitionedRateLimiter<string>? limiter = LimiterFor(name, classOptions, options.MaxTrackedPartitions, existing.Limits.RateLimiter);
                NoteUnchangeable(existing, classOptions, notes);
                Apply(existing, LimitsFor(generation, name, classOptions, options, pool, limiter), options.MaxTrackedPartitions);
                classes.Add(existing);
            }
            else
            {
                PartitionedRateLimiter<string>? limiter = LimiterFor(name, classOptions, options.MaxTrackedPartitions, current: null);
                ClassLimits limits = LimitsFor(generation, name, classOptions, options, pool, limiter);
                DedicatedThreadScheduler? threads = classOptions.Execution is { DedicatedThreads: > 0 } execution
                    ? new DedicatedThreadScheduler(name, execution.DedicatedThreads, execution.CpuPriority ?? WorkloadCpuPriority.Normal, TimeProvider, Logger)
                    : null;
                DedicatedThreadScheduler? backlogThreads = classOptions.Execution is { BackloggedPartitionCpuPriority: { } backlogged } withBacklog
                    ? new DedicatedThreadScheduler(name, BacklogThreadCount(withBacklog), backlogged, TimeProvider, Logger, threadName: $"{name} backlogged")
                    : null;
                classes.Add(new ClassState(this, name, limits, options.MaxTrackedPartitions, threads, backlogThreads));
            }
        }

        foreach (ClassState removed in remaining.Values)
        {
            // Its handles fall back from now on (to a class of its name added back, else the default class). It is kept
            // (no seat, no queue of its own) while work in flight must free its seats or its waiters must move, and
            // forgotten once drained: reloads that rename classes would otherwise leave every old name for the slow
            // path to walk. Its seat count can only fall once these limits are in force, so drained stays drained.
            Apply(removed, ClassLimits.Drained(generation, removed.Limits, pool), options.MaxTrackedPartitions);
            if (removed.InFlight > 0 || removed.Queue.Count > 0)
            {
                classes.Add(removed);
            }
            else
            {
                removed.Threads?.Dispose();
                removed.BacklogThreads?.Dispose();
                removed.Rejections.Dispose();
                removed.Due.Dispose();
            }
        }

        ClassState[] ordered = [.. classes.OrderBy(c => c.Limits.Priority).ThenBy(c => c.Name, StringComparer.OrdinalIgnoreCase)];
        ClassState defaultClass = ordered.First(c => !c.Limits.Removed && string.Equals(c.Name, options.DefaultClass, StringComparison.OrdinalIgnoreCase));
        return new EngineConfiguration(ordered, defaultClass, options.TotalConcurrency, pool);
    }

    /// <summary>
    /// Publishes a class's new limits, then moves its seat word to them: the reservation changes together with the
    /// seat count it applies to, and the shared seats in use change by exactly what the new reservation implies.
    /// </summary>
    private void Apply(ClassState c, ClassLimits limits, int maxTrackedPartitions)
    {
        c.Limits = limits;
        c.Queue.Reconfigure(maxTrackedPartitions, limits.PartitionLimit, limits.Widest);
        long word = Volatile.Read(ref c.SeatWord);
        while (true)
        {
            int inFlight = ClassState.SeatsOf(word);
            long moved = ClassState.Pack(inFlight, limits.Reserved, limits.Generation, ClassState.AdmittedLowOf(word));
            int delta = Math.Max(0, inFlight - limits.Reserved) - Math.Max(0, inFlight - ClassState.ReservedOf(word));

            // Counted high first and low last, so that for an instant the pool looks fuller, never emptier, than it is.
            if (delta > 0)
            {
                Interlocked.Add(ref _sharedInUse, delta);
            }

            long seen = Interlocked.CompareExchange(ref c.SeatWord, moved, word);
            if (seen == word)
            {
                if (delta < 0)
                {
                    Interlocked.Add(ref _sharedInUse, delta);
                }

                return;
            }

            if (delta > 0)
            {
                Interlocked.Add(ref _sharedInUse, -delta);
            }

            word = seen;
        }
    }

    /// <summary>The waiters of removed classes wait on in the default class, in the order they came.</summary>
    private static void MoveWaitersOfRemovedClassesUnsynchronized(EngineConfiguration configuration, long now)
    {
        List<Waiter> waiters = [];
        foreach (ClassState c in configuration.Classes)
        {
            while (c.Limits.Removed && c.Queue.Any is { } waiter)
            {
                c.Queue.Remove(waiter, served: false);
                c.Due.Remove(waiter);
                waiters.Add(waiter);
            }
        }

        ClassState target = configuration.DefaultClass;
        if (waiters.Count > 0 && target.Queue.Count == 0)
        {
            target.QueueNonEmptySince = now;
        }

        foreach (Waiter waiter in waiters.OrderBy(w => w.Sequence))
        {
            waiter.Class = target;
            target.Queue.Add(waiter, lifo: false);
            if (waiter.DueAt != long.MaxValue)
            {
                target.Due.Add(waiter);
            }
        }
    }

    /// <summary>
    /// The waiters of the classes shed under pressure leave with <see cref="WaitOutcome.Shed"/>, in the order they came
    /// (those moved from a removed class included); background work waits on for the pressure to ease.
    /// </summary>
    private void ShedWaitersUnsynchronized(EngineConfiguration configuration, ref Waiter? completions)
    {
        foreach (ClassState c in configuration.Classes)
        {
            if (c.Limits.ShedBy is not null && c.Queue.Count > 0)
            {
                foreach (Waiter waiter in c.Queue.All().Where(w => !w.Background).OrderBy(w => w.Sequence).ToList())
                {
                    RemoveUnsynchronized(waiter, WaitOutcome.Shed, ref completions);
                }
            }
        }
    }

    private PartitionedRateLimiter<string>? LimiterFor(string name, WorkloadClassOptions options, int maxTrackedPartitions, PartitionedRateLimiter<string>? current)
    {
        if (_customLimiters.TryGetValue(name, out PartitionedRateLimiter<string>? custom))
        {
            return custom;
        }

        if (options.HasFleetLimits)
        {
            // The fleet store's limiter enforces the rate too (validation keeps a process-scoped one out of such a class).
            return (_fleet ?? throw new InvalidOperationException($"Workload class '{name}' has a fleet-wide limit but no fleet store is registered."))
                .GetLimiter(name, options, current is PartitionedTokenBucketLimiter ? null : current);
        }

        if (options.RateLimit is not { } rate)
        {
            return null;
        }

        // An unchanged rate limit keeps its buckets (and the permits already taken from them).
        return current is PartitionedTokenBucketLimiter same && same.IsSameAs(rate, maxTrackedPartitions)
            ? same
            : new PartitionedTokenBucketLimiter(rate, maxTrackedPartitions, TimeProvider);
    }

    private static int BacklogThreadCount(WorkloadExecutionOptions execution) =>
        execution.BackloggedPartitionThreads > 0 ? execution.BackloggedPartitionThreads : Environment.ProcessorCount;

    private static void NoteUnchangeable(ClassState c, WorkloadClassOptions options, List<string> notes)
    {
        WorkloadCpuPriority? backlogged = options.Execution?.BackloggedPartitionCpuPriority;
        int backlogThreads = options.Execution is { BackloggedPartitionCpuPriority: not null } execution ? BacklogThreadCount(execution) : 0;
        if (backlogged != c.BacklogThreads?.Priority || backlogThreads != (c.BacklogThreads is null ? 0 : c.BacklogThreads.ConfiguredThreads))
        {
            notes.Add(string.Create(
                CultureInfo.InvariantCulture,
                $"Workload class '{c.Name}': Execution (BackloggedPartitionCpuPriority {backlogged?.ToString() ?? "none"}, BackloggedPartitionThreads {backlogThreads}) takes effect on restart; it keeps BackloggedPartitionCpuPriority {c.BacklogThreads?.Priority.ToString() ?? "none"} until then."));
        }

        int threads = options.Execution?.DedicatedThreads ?? 0;
        WorkloadCpuPriority priority = options.Execution?.CpuPriority ?? WorkloadCpuPriority.Normal;
        int running = c.Threads?.ThreadCount ?? 0;
        WorkloadCpuPriority runningPriority = c.Threads?.Priority ?? WorkloadCpuPriority.Normal;
        if (threads != running || (threads > 0 && priority != runningPriority))
        {
            notes.Add(string.Create(
                CultureInfo.InvariantCulture,
                $"Workload class '{c.Name}': Execution (DedicatedThreads {threads}, CpuPriority {priority}) takes effect on restart; it keeps DedicatedThreads {running}, CpuPriority {runningPriority} until then."));
        }
    }
}
