using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;

namespace Bulkhead.Options.Internal;

/// <summary>
/// Reads the <c>WorkloadIsolation</c> section as written, before it is bound, and fails on anything the binder would
/// silently drop or misread: an unknown (misspelt) setting, a value that does not parse (the binder drops the whole
/// class), a <c>Classes</c> array, a number where a time span is expected (<c>"QueueTimeout": 5</c> is five days), a
/// <c>RateLimit</c> without a rate. Every problem is reported at once, each naming its class and field.
/// </summary>
/// <remarks>
/// It runs as the first configure step of the options, so start-up (ValidateOnStart) and every reload fail with an
/// <see cref="OptionsValidationException"/> before a half-read configuration exists.
/// </remarks>
internal sealed class WorkloadIsolationConfigurationCheck(IConfiguration section) : IConfigureNamedOptions<WorkloadIsolationOptions>
{
    /// <summary>Gets the section checked, as given to <c>AddWorkloadIsolation</c>.</summary>
    public IConfiguration Section { get; } = section;

    // Each shape is read off its option type: a setting's name is written once, where it is declared. What the types
    // cannot say is added here: what must be set, and where a setting written in the wrong place lives.
    private static readonly Setting RateLimit = Setting.Of<WorkloadRateLimitOptions>() with
    {
        Required = ["PermitsPerSecond"],
        Moved = new(StringComparer.OrdinalIgnoreCase) { ["Scope"] = "Fleet:RateLimit (a rate that holds across the fleet)" },
    };

    private static readonly Setting Fleet = Setting.Of<WorkloadFleetOptions>(RateLimit) with { AnyOf = ["MaxConcurrency", "MaxConcurrencyPerPartition", "RateLimit"] };

    private static readonly Setting Objective = Setting.Of<WorkloadObjectiveOptions>() with { AnyOf = ["QueueWaitP99", "SeatTimeP99"] };

    private static readonly Setting Adaptive = Setting.Of<WorkloadAdaptiveOptions>(Setting.Of<WorkloadAimdOptions>()) with
    {
        Moved = new(StringComparer.OrdinalIgnoreCase) { ["DecreaseFactor"] = "Aimd:DecreaseFactor", ["IncreaseStep"] = "Aimd:IncreaseStep" },
    };

    private static readonly Setting Shed = Setting.Of<WorkloadShedOptions>() with { AnyOf = ["CpuAbove", "MemoryAbove"] };

    private static readonly Setting Class = Setting.Of<WorkloadClassOptions>(
        RateLimit,
        Setting.Of<WorkloadExecutionOptions>(),
        Setting.Of<WorkloadJobQueueOptions>(),
        Objective,
        Setting.Of<WorkloadLearnedWeightOptions>(),
        Fleet,
        Shed,
        Setting.Of<WorkloadQueueDelayOptions>()) with
    {
        Moved = new(StringComparer.OrdinalIgnoreCase) { ["ExecutionTimeout"] = "Execution:Timeout" },
    };

    /// <summary>
    /// Bulkhead.AspNetCore's settings (<c>WorkloadIsolation:Http</c>): an object whose settings that package checks, off
    /// its own option type, when it reads them (the pipeline is built); here only its shape as an object is.
    /// </summary>
    private static readonly Setting Http = new(SettingKind.Object);

    /// <summary>
    /// The shape of the section, as <see cref="WorkloadIsolationOptions"/> binds it, and the place of Bulkhead.AspNetCore's
    /// <c>Http</c>, which holds the request rules and trusted headers.
    /// </summary>
    internal static readonly Setting Root = Setting.Of<WorkloadIsolationOptions>(Class, Adaptive, Setting.Of<WorkloadPressureOptions>()).With("Http", Http) with
    {
        Moved = new(StringComparer.OrdinalIgnoreCase) { ["Rules"] = "Http:Rules", ["TrustedHeaders"] = "Http:TrustedHeaders" },
    };

    public void Configure(WorkloadIsolationOptions options) => Configure(Microsoft.Extensions.Options.Options.DefaultName, options);

    public void Configure(string? name, WorkloadIsolationOptions options)
    {
        if (name != Microsoft.Extensions.Options.Options.DefaultName)
        {
            return;
        }

        List<string> failures = Check(Section);
        if (failures.Count > 0)
        {
            throw new OptionsValidationException(name, typeof(WorkloadIsolationOptions), failures);
        }
    }

    /// <summary>Checks a section of another package's settings against its shape (<see cref="Setting.Of{T}"/>) and returns every problem found.</summary>
    /// <param name="section">The section, as written.</param>
    /// <param name="shape">Its shape.</param>
    /// <param name="where">How problems name it, for example <c>WorkloadIsolation: Http</c>.</param>
    public static List<string> Check(IConfiguration section, Setting shape, string where)
    {
        List<string> failures = [];
        CheckObject(section, shape, where, failures);
        return failures;
    }

    /// <summary>Checks a section against <see cref="Root"/> and returns every problem found.</summary>
    public static List<string> Check(IConfiguration section)
    {
        List<string> failures = [];
        if (section is IConfigurationSection { } given && !given.Exists())
        {
            // A misspelt or missing section would start with one class and no isolation, and say nothing.
            failures.Add($"The configuration section '{given.Path}' given to AddWorkloadIsolation does not exist or is empty (misspelt, or missing from appsettings.json?): without it every request would run in one class, with no isolation.");
            return failures;
        }

        CheckObject(section, Root, "WorkloadIsolation", failures);
        return failures;
    }

    private static void CheckObject(IConfiguration section, Setting shape, string where, List<string> failures)
    {
        foreach (IConfigurationSection child in section.GetChildren())
        {
            if (!shape.Members!.TryGetValue(child.Key, out Setting? setting))
            {
                if (shape.Moved?.GetValueOrDefault(child.Key) is { } moved)
                {
                    failures.Add($"{where}: '{child.Key}' is not a setting here; it is '{moved}'.");
                    continue;
                }

                string? nearest = Nearest(child.Key, shape.Members.Keys);
                failures.Add(nearest is null
                    ? $"{where}: '{child.Key}' is not a setting (settings here: {string.Join(", ", shape.Members.Keys)})."
                    : $"{where}: '{child.Key}' is not a setting; did you mean '{nearest}'?");
                continue;
            }

            CheckSetting(child, setting, where, failures);
        }

        foreach (string required in shape.Required!)
        {
            if (!IsSet(section, required))
            {
                failures.Add($"{where}: {required} is required.");
            }
        }

        if (shape.AnyOf is { } anyOf && !anyOf.Any(name => IsSet(section, name)))
        {
            // An empty object binds to nothing at all: it would be ignored without a word.
            failures.Add($"{where} sets no target; set {string.Join(", ", anyOf[..^1])} or {anyOf[^1]}, or both.");
        }
    }

    private static bool IsSet(IConfiguration section, string name) =>
        !string.IsNullOrEmpty(section[name]) || section.GetSection(name).GetChildren().Any();

    private static void CheckSetting(IConfigurationSection child, Setting setting, string where, List<string> failures)
    {
        bool hasChildren = child.GetChildren().Any();
        switch (setting.Kind)
        {
            case SettingKind.Object:
                if (child.Value is { Length: > 0 } value)
                {
                    failures.Add($"{where}: {child.Key} ('{value}') must be an object of settings, not a value.");
                }
                else if (setting.Members is not null)
                {
                    CheckObject(child, setting, $"{where}: {child.Key}", failures);
                }

                break;

            case SettingKind.Map:
                CheckClasses(child, setting.Item!, where, failures);
                break;

            case SettingKind.List:
                CheckList(child, setting.Item!, where, failures);
                break;

            default:
                if (hasChildren)
                {
                    failures.Add($"{where}: {child.Key} must be a value, not an object or a list.");
                }
                else if (child.Value is { Length: > 0 } text && Problem(text, setting) is { } problem)
                {
                    failures.Add($"{where}: {child.Key} ('{text}') {problem}");
                }

                break;
        }
    }

    private static void CheckClasses(IConfigurationSection classes, Setting shape, string where, List<string> failures)
    {
        List<IConfigurationSection> children = [.. classes.GetChildren()];
        if (children.Count > 0 && IsList(children))
        {
            failures.Add($"{where}: Classes is a list; it must be an object keyed by class name, for example \"Classes\": {{ \"interactive\": {{ ... }} }}.");
            return;
        }

        if (children.Count == 0 && classes.Value is { Length: > 0 } value)
        {
            failures.Add($"{where}: Classes ('{value}') must be an object keyed by class name, not a value.");
            return;
        }

        foreach (IConfigurationSection workloadClass in children)
        {
            if (workloadClass.Value is { Length: > 0 } text)
            {
                failures.Add($"Workload class '{workloadClass.Key}': ('{text}') must be an object of settings, not a value.");
                continue;
            }

            CheckObject(workloadClass, shape, $"Workload class '{workloadClass.Key}'", failures);
        }
    }

    private static void CheckList(IConfigurationSection list, Setting item, string where, List<string> failures)
    {
        List<IConfigurationSection> children = [.. list.GetChildren()];
        if (children.Count == 0)
        {
            if (list.Value is { Length: > 0 } value)
            {
                failures.Add($"{where}: {list.Key} ('{value}') must be a list, for example [ ... ].");
            }

            return;
        }

        if (!IsList(children))
        {
            failures.Add($"{where}: {list.Key} must be a list, for example [ ... ], not an object.");
            return;
        }

        foreach (IConfigurationSection element in children)
        {
            string at = string.Create(CultureInfo.InvariantCulture, $"{where}: {list.Key}[{element.Key}]");
            if (item.Kind == SettingKind.Object)
            {
                if (element.Value is { Length: > 0 } text)
                {
                    failures.Add($"{at} ('{text}') must be an object of settings, not a value.");
                }
                else
                {
                    CheckObject(element, item, at, failures);
                }
            }
            else if (element.GetChildren().Any())
            {
                failures.Add($"{at} must be a value, not an object or a list.");
            }
        }
    }

    /// <summary>Whether the keys are those a JSON array binds to: 0, 1, 2, ...</summary>
    private static bool IsList(List<IConfigurationSection> children)
    {
        var indexes = new HashSet<int>();
        foreach (IConfigurationSection child in children)
        {
            if (!int.TryParse(child.Key, NumberStyles.None, CultureInfo.InvariantCulture, out int index) || !indexes.Add(index))
            {
                return false;
            }
        }

        return indexes.Min() == 0 && indexes.Max() == indexes.Count - 1;
    }

    private static string? Problem(string text, Setting setting) => setting.Kind switch
    {
        SettingKind.Int => long.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out long number)
            ? number is < int.MinValue or > int.MaxValue ? "is too large for a whole number setting." : null
            : "is not a whole number.",
        SettingKind.Number => double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double number) && double.IsFinite(number)
            ? null
            : "is not a number (write it with a '.' for decimals, for example 0.5).",
        SettingKind.Bool => bool.TryParse(text, out _) ? null : "is not true or false.",
        SettingKind.Duration => DurationProblem(text),
        SettingKind.Enum => setting.Names!.Contains(text, StringComparer.OrdinalIgnoreCase)
            ? null
            : $"is not one of {string.Join(", ", setting.Names!)}.",
        _ => null,
    };

    private static string? DurationProblem(string text)
    {
        // TimeSpan reads "5" as five days: a time span must be written with its hours, minutes and seconds.
        return text.Contains(':', StringComparison.Ordinal) && TimeSpan.TryParse(text, CultureInfo.InvariantCulture, out _)
            ? null
            : "is not a time span; write hours:minutes:seconds, for example \"00:00:30\" (a bare number would mean days).";
    }

    /// <summary>The known name closest to a misspelt one, when it is close enough to be what was meant.</summary>
    private static string? Nearest(string key, IEnumerable<string> names)
    {
        string? best = null;
        int bestDistance = int.MaxValue;
        foreach (string name in names)
        {
            int distance = Distance(key.ToUpperInvariant(), name.ToUpperInvariant());
            if (distance < bestDistance)
            {
                (best, bestDistance) = (name, distance);
            }
        }

        return bestDistance <= Math.Max(2, key.Length / 4) ? best : null;
    }

    private static int Distance(string a, string b)
    {
        int[] previous = new int[b.Length + 1];
        int[] current = new int[b.Length + 1];
        for (int j = 0; j <= b.Length; j++)
        {
            previous[j] = j;
        }

        for (int i = 1; i <= a.Length; i++)
        {
            current[0] = i;
            for (int j = 1; j <= b.Length; j++)
            {
                int substitution = previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
                current[j] = Math.Min(substitution, Math.Min(previous[j], current[j - 1]) + 1);
            }

            (previous, current) = (current, previous);
        }

        return previous[b.Length];
    }

    internal enum SettingKind
    {
        Int,
        Number,
        Bool,
        Text,
        Duration,
        Enum,
        Object,
        Map,
        List,
    }

    /// <summary>What one setting may hold.</summary>
    internal sealed record Setting(SettingKind Kind)
    {
        /// <summary>Gets the settings of an object, by name (compared without regard to case, as configuration is).</summary>
        public Dictionary<string, Setting>? Members { get; init; }

        public string[]? Required { get; init; }

        /// <summary>Gets the settings of an object of which at least one must be set, or <see langword="null"/>.</summary>
        public string[]? AnyOf { get; init; }

        /// <summary>Gets settings that live elsewhere in the section, by their name here: where they are.</summary>
        public Dictionary<string, string>? Moved { get; init; }

        /// <summary>Gets what each element of a list or each class of a map holds.</summary>
        public Setting? Item { get; init; }

        public string[]? Names { get; init; }

        public static Setting Object(string[] required, params (string Name, Setting Setting)[] members) => new(SettingKind.Object)
        {
            Members = members.ToDictionary(m => m.Name, m => m.Setting, StringComparer.OrdinalIgnoreCase),
            Required = required,
        };

        public static Setting Enum<TEnum>()
            where TEnum : struct, System.Enum => new(SettingKind.Enum) { Names = System.Enum.GetNames<TEnum>() };

        /// <summary>Gets the option type an object's shape was read from, so that a property of that type finds it.</summary>
        public Type? Type { get; init; }

        /// <summary>
        /// The shape of an option type: a setting per public property, its kind by the property's type; a property that
        /// holds options of its own (an object, a map of them, a list of them) takes the shape given for that type.
        /// </summary>
        /// <exception cref="InvalidOperationException">A property's type has no kind and no shape was given for it.</exception>
        public static Setting Of<[DynamicallyAccessedMembers(DynamicallyAccessedMemberTypes.PublicProperties)] T>(params Setting[] nested)
        {
            Dictionary<Type, Setting> shapes = nested.ToDictionary(n => n.Type!);
            var members = new Dictionary<string, Setting>(StringComparer.OrdinalIgnoreCase);
            foreach (System.Reflection.PropertyInfo property in typeof(T).GetProperties(System.Reflection.BindingFlags.Public | System.Reflection.BindingFlags.Instance))
            {
                if (typeof(Delegate).IsAssignableFrom(property.PropertyType))
                {
                    // Code only (a callback): configuration cannot hold it.
                    continue;
                }

                members[property.Name] = For(property.PropertyType, shapes, $"{typeof(T).Name}.{property.Name}");
            }

            return new Setting(SettingKind.Object) { Members = members, Required = [], Type = typeof(T) };
        }

        /// <summary>This object's shape with one more setting.</summary>
        public Setting With(string name, Setting setting) =>
            this with { Members = new Dictionary<string, Setting>(Members!, StringComparer.OrdinalIgnoreCase) { [name] = setting } };

        private static Setting For(Type type, Dictionary<Type, Setting> shapes, string where)
        {
            type = Nullable.GetUnderlyingType(type) ?? type;
            if (type == typeof(int))
            {
                return new Setting(SettingKind.Int);
            }

            if (type == typeof(double))
            {
                return new Setting(SettingKind.Number);
            }

            if (type == typeof(bool))
            {
                return new Setting(SettingKind.Bool);
            }

            if (type == typeof(string))
            {
                return new Setting(SettingKind.Text);
            }

            if (type == typeof(TimeSpan))
            {
                return new Setting(SettingKind.Duration);
            }

            if (type.IsEnum)
            {
                return new Setting(SettingKind.Enum) { Names = System.Enum.GetNames(type) };
            }

            if (shapes.TryGetValue(type, out Setting? shape))
            {
                return shape;
            }

            if (type.IsGenericType && type.GetGenericTypeDefinition() == typeof(IDictionary<,>))
            {
                return new Setting(SettingKind.Map) { Item = For(type.GetGenericArguments()[1], shapes, where) };
            }

            if (type.IsGenericType && (type.GetGenericTypeDefinition() == typeof(IList<>) || type.GetGenericTypeDefinition() == typeof(ISet<>)))
            {
                return new Setting(SettingKind.List) { Item = For(type.GetGenericArguments()[0], shapes, where) };
            }

            throw new InvalidOperationException($"The configuration check has no shape for {where} ({type.Name}).");
        }
    }
}
