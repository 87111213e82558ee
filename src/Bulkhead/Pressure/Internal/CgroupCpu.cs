using System.Globalization;

namespace Bulkhead.Pressure.Internal;

/// <summary>
/// The CPU the process may use, in processors: the processors it may run on, or its control group's CPU quota when that
/// is less (a container given 1.5 CPUs on a 4-core host may use 1.5). cgroup v2 (<c>cpu.max</c>) and v1
/// (<c>cpu.cfs_quota_us</c>, <c>cpu.cfs_period_us</c>); the smallest quota on the way from the process's group to the
/// root counts.
/// </summary>
internal static class CgroupCpu
{
    public static double Capacity() => Capacity(Environment.ProcessorCount, ReadOrNull);

    /// <summary>The capacity from <paramref name="processors"/> and the files <paramref name="read"/> finds (<see langword="null"/> for a missing one).</summary>
    internal static double Capacity(int processors, Func<string, string?> read)
    {
        double? quota = null;
        foreach (string line in (read("/proc/self/cgroup") ?? string.Empty).Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            // "hierarchy-id:controllers:path"; v2 has the id 0 and no controllers.
            string[] parts = line.Split(':', 3);
            if (parts.Length != 3)
            {
                continue;
            }

            string path = parts[2].Trim();
            if (parts[0] == "0" && parts[1].Length == 0)
            {
                quota = Min(quota, Walk(path, directory => V2Quota(read($"/sys/fs/cgroup{directory}/cpu.max"))));
            }
            else if (parts[1].Split(',').Contains("cpu"))
            {
                foreach (string mount in (ReadOnlySpan<string>)["/sys/fs/cgroup/cpu,cpuacct", "/sys/fs/cgroup/cpu"])
                {
                    quota = Min(quota, Walk(path, directory => V1Quota(read($"{mount}{directory}/cpu.cfs_quota_us"), read($"{mount}{directory}/cpu.cfs_period_us"))));
                }
            }
        }

        return quota is > 0 and { } limit ? Math.Min(processors, limit) : processors;
    }

    /// <summary>The smallest quota from the group at <paramref name="path"/> up to the root.</summary>
    private static double? Walk(string path, Func<string, double?> quotaAt)
    {
        double? smallest = null;
        string directory = path == "/" ? string.Empty : path.TrimEnd('/');
        while (true)
        {
            smallest = Min(smallest, quotaAt(directory));
            if (directory.Length == 0)
            {
                return smallest;
            }

            int slash = directory.LastIndexOf('/');
            directory = slash <= 0 ? string.Empty : directory[..slash];
        }
    }

    /// <summary><c>cpu.max</c>: "quota period", or "max period" for none.</summary>
    internal static double? V2Quota(string? cpuMax)
    {
        string[] parts = (cpuMax ?? string.Empty).Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        return parts.Length == 2 && Positive(parts[0]) is { } quota && Positive(parts[1]) is { } period ? quota / period : null;
    }

    /// <summary><c>cpu.cfs_quota_us</c> (-1 for none) over <c>cpu.cfs_period_us</c>.</summary>
    internal static double? V1Quota(string? quota, string? period) =>
        Positive(quota?.Trim()) is { } q && Positive(period?.Trim()) is { } p ? q / p : null;

    private static double? Positive(string? text) =>
        long.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out long value) && value > 0 ? value : null;

    private static double? Min(double? a, double? b) => a is null ? b : b is null ? a : Math.Min(a.Value, b.Value);

    private static string? ReadOrNull(string path)
    {
        try
        {
            return File.Exists(path) ? File.ReadAllText(path) : null;
        }
        catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }
}
