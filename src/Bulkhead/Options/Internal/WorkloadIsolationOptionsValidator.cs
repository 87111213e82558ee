using System.ComponentModel.DataAnnotations;
using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using Bulkhead.DependencyInjection.Internal;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Bulkhead.Options.Internal;

/// <summary>
/// Checks the whole configuration at once and reports every problem, each naming its class and field.
/// </summary>
internal sealed class WorkloadIsolationOptionsValidator : IValidateOptions<WorkloadIsolationOptions>
{
    // Whether a fleet store is registered; null when unknown (the validator made outside a service collection).
    private readonly bool? _hasFleetStore;

    // Classes given a limiter of their own with AddRateLimiter: it replaces the class's rate and fleet limits.
    private readonly HashSet<string> _customLimiters = new(StringComparer.OrdinalIgnoreCase);

    public WorkloadIsolationOptionsValidator()
    {
    }

    /// <summary>Made by the service collection, which also says whether a fleet store is registered for fleet-wide limits.</summary>
    public WorkloadIsolationOptionsValidator(IServiceProvider services)
    {
        _hasFleetStore = services.GetService(typeof(IWorkloadFleetLimiterFactory)) is not null;
        foreach (WorkloadRateLimiterRegistration registration in services.GetServices<WorkloadRateLimiterRegistration>())
        {
            _customLimiters.Add(registration.WorkloadClass);
        }
    }

    public ValidateOptionsResult Validate(string? name, WorkloadIsolationOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);

        List<string> failures = [];
        AddAttributeFailures(options, "WorkloadIsolation", failures);

        if (options.Classes.Count > 0 && !string.IsNullOrWhiteSpace(options.DefaultClass)
            && !options.Classes.ContainsKey(options.DefaultClass))
        {
            failures.Add(string.Create(
                CultureInfo.InvariantCulture,
                $"WorkloadIsolation: DefaultClass '{options.DefaultClass}' is not a configured class (configured: {string.Join(", ", options.Classes.Keys.Select(k => $"'{k}'"))})."));
        }

        if (options.Classes.Count == 0 && !string.IsNullOrEmpty(options.DefaultClass) && !IsToken(options.DefaultClass))
        {
            // The one class made from DefaultClass alone.
            failures.Add($"WorkloadIsolation: workload class name '{Escape(options.DefaultClass)}' must be a token: letters, digits and !#$%&'*+-.^_`|~ (no spaces, no other characters).");
        }

        bool totalInRange = options.TotalConcurrency is >= 1 and <= WorkloadIsolationOptions.MaxSeats;
        long reservedTotal = 0;
        foreach ((string className, WorkloadClassOptions? classOptions) in options.Classes)
        {
            if (string.IsNullOrWhiteSpace(className))
            {
                failures.Add("WorkloadIsolation: a workload class has an empty name.");
                continue;
            }

            string prefix = $"Workload class '{className}'";
            if (!IsToken(className))
            {
                // Names travel in response headers (WorkloadClassResponseHeader, RateLimitHeaders), metric tags and logs.
                failures.Add($"WorkloadIsolation: workload class name '{Escape(className)}' must be a token: letters, digits and !#$%&'*+-.^_`|~ (no spaces, no other characters).");
            }

            if (classOptions is null)
            {
                failures.Add($"{prefix}: has no settings.");
                continue;
            }

            AddAttributeFailures(classOptions, prefix, failures);
            ValidateClass(options, totalInRange, className, prefix, classOptions, failures);
            reservedTotal += Math.Max(0, classOptions.ReservedConcurrency);
        }

        // A TotalConcurrency out of range is reported above, once; sums against it would only repeat it.
        if (totalInRange && reservedTotal > options.TotalConcurrency)
        {
            failures.Add(string.Create(
                CultureInfo.InvariantCulture,
                $"WorkloadIsolation: the classes' ReservedConcurrency adds up to {reservedTotal}, more than TotalConcurrency ({options.TotalConcurrency})."));
        }

        if (!Enum.IsDefined(options.Mode))
        {
            failures.Add($"WorkloadIsolation: Mode ({options.Mode}) must be Enforce or Observe.");
        }

        ValidateAdaptive(options, failures);
        ValidatePressure(options, failures);
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    private static void ValidateAdaptive(WorkloadIsolationOptions options, List<string> failures)
    {
        if (options.Adaptive is not { } adaptive)
        {
            failures.Add("WorkloadIsolation: Adaptive is empty; leave it out to keep the defaults.");
            return;
        }

        AddAttributeFailures(adaptive, "WorkloadIsolation: Adaptive", failures);
        if (adaptive.Aimd is null)
        {
            failures.Add("WorkloadIsolation: Adaptive: Aimd is empty; leave it out to keep the defaults.");
        }
        else
        {
            AddAttributeFailures(adaptive.Aimd, "WorkloadIsolation: Adaptive: Aimd", failures);
        }

        if (adaptive.Window < TimeSpan.FromMilliseconds(10) || adaptive.Window > TimeSpan.FromHours(1))
        {
            failures.Add(string.Create(CultureInfo.InvariantCulture, $"WorkloadIsolation: Adaptive: Window ({adaptive.Window}) must be from 10 ms to an hour."));
        }

        if (!Enum.IsDefined(adaptive.Algorithm))
        {
            failures.Add($"WorkloadIsolation: Adaptive: Algorithm ({adaptive.Algorithm}) must be Aimd or Gradient.");
        }

        if (adaptive.ThreadPoolDelayP99 is { } delay && (delay <= TimeSpan.Zero || delay > TimeSpan.FromHours(1)))
        {
            failures.Add(string.Create(CultureInfo.InvariantCulture, $"WorkloadIsolation: Adaptive: ThreadPoolDelayP99 ({delay}) must be positive and at most an hour."));
        }

        if (adaptive.Enabled && adaptive.ThreadPoolDelayP99 is null && !options.Classes.Values.Any(c => c?.Objective is { QueueWaitP99: not null } or { SeatTimeP99: not null }))
        {
            failures.Add("WorkloadIsolation: Adaptive is enabled but has nothing to keep: set Adaptive:ThreadPoolDelayP99 or a class's Objective (QueueWaitP99 or SeatTimeP99).");
        }
    }

    private static void ValidatePressure(WorkloadIsolationOptions options, List<string> failures)
    {
        if (options.Pressure is not { } pressure)
        {
            failures.Add("WorkloadIsolation: Pressure is empty; leave it out to keep the defaults.");
            return;
        }

        AddAttributeFailures(pressure, "WorkloadIsolation: Pressure", failures);
        if (pressure.Interval < TimeSpan.FromMilliseconds(10) || pressure.Interval > TimeSpan.FromMinutes(1))
        {
            failures.Add(string.Create(CultureInfo.InvariantCulture, $"WorkloadIsolation: Pressure: Interval ({pressure.Interval}) must be from 10 ms to a minute."));
        }
    }

    private static void ValidateQueueDelay(string prefix, WorkloadClassOptions c, WorkloadQueueDelayOptions delay, List<string> failures)
    {
        bool unbounded = c.QueueTimeout == Timeout.InfiniteTimeSpan;
        if (delay.Target <= TimeSpan.Zero || delay.Target > TimeSpan.FromHours(1) || (!unbounded && delay.Target > c.QueueTimeout))
        {
            failures.Add(string.Create(CultureInfo.InvariantCulture, $"{prefix}: QueueDelay: Target ({delay.Target}) must be positive and at most the class's QueueTimeout ({c.QueueTimeout}) and an hour."));
        }

        if (delay.Interval <= TimeSpan.Zero || delay.Interval > TimeSpan.FromHours(1))
        {
            failures.Add(string.Create(CultureInfo.InvariantCulture, $"{prefix}: QueueDelay: Interval ({delay.Interval}) must be positive and at most an hour."));
        }
    }

    private static void ValidateShed(string prefix, WorkloadIsolationOptions options, WorkloadShedOptions shed, List<string> failures)
    {
        if (shed.CpuAbove is null && shed.MemoryAbove is null)
        {
            failures.Add($"{prefix}: Shed sets no target; set CpuAbove or MemoryAbove, or both.");
            return;
        }

        AddAttributeFailures(shed, $"{prefix}: Shed", failures);
        double hysteresis = options.Pressure?.Hysteresis ?? 0;
        foreach ((string name, double? threshold) in new[] { ("CpuAbove", shed.CpuAbove), ("MemoryAbove", shed.MemoryAbove) })
        {
            if (threshold is { } value && value <= hysteresis && value is >= 0.01 and <= 1.0)
            {
                // Admitted again only below threshold − hysteresis, which no reading can be: shed for good.
                failures.Add(string.Create(CultureInfo.InvariantCulture, $"{prefix}: Shed: {name} ({value}) must be more than Pressure:Hysteresis ({hysteresis}), or the class, once shed, would never be admitted again."));
            }
        }
    }

    /// <summary>The most seats one unit of work of a class can ever hold: its maximum, its partition limit, its reservation and the whole pool.</summary>
    /// <summary>The most seats a unit of work of the class can ever be given: its maximum, within its reservation and the shared pool, and its per-partition limit.</summary>
    internal static int WidestUnit(WorkloadIsolationOptions options, WorkloadClassOptions c)
    {
        int pool = options.TotalConcurrency - options.Classes.Values.Sum(other => other?.ReservedConcurrency ?? 0);
        return Math.Min(Math.Min(c.MaxConcurrency ?? options.TotalConcurrency, c.ReservedConcurrency + pool), c.MaxConcurrencyPerPartition ?? int.MaxValue);
    }

    private static void ValidateLearnedWeight(string prefix, WorkloadIsolationOptions options, WorkloadClassOptions c, WorkloadLearnedWeightOptions learned, List<string> failures)
    {
        if (learned.SeatTime <= TimeSpan.Zero || learned.SeatTime > TimeSpan.FromHours(1))
        {
            failures.Add(string.Create(CultureInfo.InvariantCulture, $"{prefix}: LearnedWeight: SeatTime ({learned.SeatTime}) must be positive and at most an hour."));
        }

        if (!(learned.Smoothing > 0 && learned.Smoothing <= 1))
        {
            failures.Add(string.Create(CultureInfo.InvariantCulture, $"{prefix}: LearnedWeight: Smoothing ({learned.Smoothing}) must be more than 0 and at most 1."));
        }

        int widest = WidestUnit(options, c);
        if (learned.MinWeight < 1 || learned.MaxWeight < learned.MinWeight)
        {
            failures.Add(string.Create(CultureInfo.InvariantCulture, $"{prefix}: LearnedWeight: MinWeight ({learned.MinWeight}) must be 1 or more and MaxWeight ({learned.MaxWeight}) at least MinWeight."));
        }
        else if (learned.MaxWeight > widest && widest >= 1)
        {
            failures.Add(string.Create(CultureInfo.InvariantCulture, $"{prefix}: LearnedWeight: MaxWeight ({learned.MaxWeight}) is more seats than the class can ever give ({widest}: its MaxConcurrency, its reservation and the shared pool, and its MaxConcurrencyPerPartition)."));
        }
    }

    private static void ValidateObjective(string prefix, WorkloadObjectiveOptions objective, List<string> failures)
    {
        if (objective.QueueWaitP99 is null && objective.SeatTimeP99 is null)
        {
            failures.Add($"{prefix}: Objective sets no target; set QueueWaitP99 or SeatTimeP99, or both.");
        }

        foreach ((string name, TimeSpan? target) in new[] { ("QueueWaitP99", objective.QueueWaitP99), ("SeatTimeP99", objective.SeatTimeP99) })
        {
            if (target is { } value && (value <= TimeSpan.Zero || value > TimeSpan.FromHours(1)))
            {
                failures.Add(string.Create(CultureInfo.InvariantCulture, $"{prefix}: Objective: {name} ({value}) must be positive and at most an hour."));
            }
        }
    }

    private void ValidateClass(WorkloadIsolationOptions options, bool totalInRange, string className, string prefix, WorkloadClassOptions classOptions, List<string> failures)
    {
        int max = classOptions.MaxConcurrency ?? options.TotalConcurrency;
        if (classOptions.ReservedConcurrency > max && (classOptions.MaxConcurrency is not null || totalInRange))
        {
            failures.Add(string.Create(
                CultureInfo.InvariantCulture,
                $"{prefix}: ReservedConcurrency ({classOptions.ReservedConcurrency}) exceeds MaxConcurrency ({max})."));
        }

        if (totalInRange && classOptions.MaxConcurrency > options.TotalConcurrency)
        {
            failures.Add(string.Create(
                CultureInfo.InvariantCulture,
                $"{prefix}: MaxConcurrency ({classOptions.MaxConcurrency}) exceeds TotalConcurrency ({options.TotalConcurrency})."));
        }

        TimeSpan timeout = classOptions.QueueTimeout;
        if (timeout != Timeout.InfiniteTimeSpan && (timeout < TimeSpan.Zero || timeout.TotalMilliseconds > uint.MaxValue - 1))
        {
            failures.Add(string.Create(
                CultureInfo.InvariantCulture,
                $"{prefix}: QueueTimeout ({timeout}) must be zero or positive and under 49 days, or Timeout.InfiniteTimeSpan."));
        }

        if (classOptions.Execution?.Timeout is { } executionTimeout && (executionTimeout <= TimeSpan.Zero || executionTimeout.TotalMilliseconds > uint.MaxValue - 1))
        {
            failures.Add(string.Create(
                CultureInfo.InvariantCulture,
                $"{prefix}: Execution: Timeout ({executionTimeout}) must be positive and under 49 days; leave it out for no timeout."));
        }

        if (classOptions.RateLimit is { } rateLimit)
        {
            AddAttributeFailures(rateLimit, $"{prefix}: RateLimit", failures);
        }

        if (classOptions.HasFleetLimits && _customLimiters.Contains(className))
        {
            failures.Add($"{prefix}: has fleet-wide limits and a rate limiter of its own (AddRateLimiter), which would replace them; keep one of the two.");
        }

        if (_hasFleetStore == false && classOptions.HasFleetLimits)
        {
            failures.Add($"{prefix}: has fleet-wide limits (Fleet) but no fleet store is registered; add one, for example AddWorkloadIsolation(...).AddRedisFleetLimits(...) from the Bulkhead.Redis package.");
        }

        if (classOptions.Fleet is { } fleet)
        {
            AddAttributeFailures(fleet, $"{prefix}: Fleet", failures);
            if (fleet.RateLimit is { } fleetRate)
            {
                AddAttributeFailures(fleetRate, $"{prefix}: Fleet: RateLimit", failures);
            }

            if (fleet is { MaxConcurrency: null, MaxConcurrencyPerPartition: null, RateLimit: null })
            {
                failures.Add($"{prefix}: Fleet sets no limit; set MaxConcurrency, MaxConcurrencyPerPartition or RateLimit.");
            }

            if (classOptions.RateLimit is not null && classOptions.HasFleetLimits)
            {
                // One admission check per class: the fleet limiter, which then enforces the rate too.
                failures.Add($"{prefix}: a RateLimit in each process and Fleet limits cannot be combined; put the rate under Fleet (Fleet:RateLimit), where it holds across the fleet.");
            }
        }

        if (classOptions.Execution is { } execution)
        {
            AddAttributeFailures(execution, $"{prefix}: Execution", failures);
            if (execution.CpuPriority is { } priority && !Enum.IsDefined(priority))
            {
                failures.Add($"{prefix}: Execution: CpuPriority ({execution.CpuPriority}) must be Normal, BelowNormal, Lowest or Idle.");
            }

            if (execution.BackloggedPartitionCpuPriority is { } backlogged && (!Enum.IsDefined(backlogged) || backlogged <= (execution.CpuPriority ?? WorkloadCpuPriority.Normal)))
            {
                failures.Add($"{prefix}: Execution: BackloggedPartitionCpuPriority ({backlogged}) must be lower than CpuPriority ({execution.CpuPriority ?? WorkloadCpuPriority.Normal}): BelowNormal, Lowest or Idle.");
            }
        }

        if (classOptions.Jobs is { } jobs)
        {
            AddAttributeFailures(jobs, $"{prefix}: Jobs", failures);
        }

        if (classOptions.Objective is { } objective)
        {
            ValidateObjective(prefix, objective, failures);
        }

        if (classOptions.QueueDelay is { } delay)
        {
            ValidateQueueDelay(prefix, classOptions, delay, failures);
        }

        if (classOptions.Shed is { } shed)
        {
            ValidateShed(prefix, options, shed, failures);
        }

        if (classOptions.LearnedWeight is { } learned)
        {
            ValidateLearnedWeight(prefix, options, classOptions, learned, failures);
        }

        if (classOptions.Mode is { } mode && !Enum.IsDefined(mode))
        {
            failures.Add($"{prefix}: Mode ({mode}) must be Enforce or Observe.");
        }

        if (!Enum.IsDefined(classOptions.QueueOrder))
        {
            failures.Add($"{prefix}: QueueOrder ({classOptions.QueueOrder}) must be Fifo or Lifo.");
        }
    }

    /// <summary>Whether <paramref name="name"/> is an HTTP token (RFC 9110, section 5.6.2): it can go in a header as it is.</summary>
    public static bool IsToken(string name)
    {
        if (name.Length == 0)
        {
            return false;
        }

        foreach (char ch in name)
        {
            if (!(char.IsAsciiLetterOrDigit(ch) || "!#$%&'*+-.^_`|~".Contains(ch, StringComparison.Ordinal)))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>A name as it can be shown in a message: control characters and non-ASCII written as escapes.</summary>
    private static string Escape(string name) => Telemetry.Internal.LogText.Escape(name);

    [UnconditionalSuppressMessage("Trimming", "IL2026", Justification = "T's public properties, and so their validation attributes, are kept by the annotation.")]
    private static void AddAttributeFailures<[DynamicallyAccessedMembers(DynamicallyAccessedMemberTypes.PublicProperties)] T>(T instance, string prefix, List<string> failures)
        where T : notnull
    {
        List<ValidationResult> results = [];
        if (Validator.TryValidateObject(instance, new ValidationContext(instance), results, validateAllProperties: true))
        {
            return;
        }

        foreach (ValidationResult result in results)
        {
            string member = result.MemberNames.FirstOrDefault() ?? "value";
            object? value = typeof(T).GetProperty(member)?.GetValue(instance);
            if (value is null || (value is string text && string.IsNullOrWhiteSpace(text)))
            {
                failures.Add($"{prefix}: {member} is empty; it is required.");
                continue;
            }

            failures.Add(string.Create(CultureInfo.InvariantCulture, $"{prefix}: {member} ({value ?? "null"}) is out of range. {result.ErrorMessage}"));
        }
    }
}
