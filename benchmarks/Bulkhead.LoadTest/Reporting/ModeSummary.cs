using System.Globalization;
using Bulkhead.LoadTest.Client;

namespace Bulkhead.LoadTest.Reporting;

/// <summary>One mode across repetitions: medians, and the two ratios that matter with their min–max.</summary>
public sealed record ModeSummary(Mode Mode, double P50, double P99, double P999, double Max, double ReportsPerSecond, long Rejections,
    double P99Ratio, double P99RatioMin, double P99RatioMax, double ThroughputRatio, double ThroughputRatioMin, double ThroughputRatioMax,
    double ServerCores = 0, double DriverCores = 0)
{
    public static IReadOnlyList<ModeSummary> From(IReadOnlyList<PhaseResult> results)
    {
        ArgumentNullException.ThrowIfNull(results);

        // Report throughput is compared with the unprotected flood of the same repetition.
        Dictionary<int, double> unprotected = results.Where(r => !r.IsBaseline && r.Mode == Mode.NoIsolation)
            .ToDictionary(r => r.Repetition, r => r.ReportsPerSecond);
        var summaries = new List<ModeSummary>();
        foreach (IGrouping<Mode, PhaseResult> mode in results.Where(r => !r.IsBaseline).GroupBy(r => r.Mode))
        {
            var p99Ratios = new List<double>();
            var throughputRatios = new List<double>();
            foreach (PhaseResult flood in mode)
            {
                PhaseResult baseline = results.Single(r => r.IsBaseline && r.Mode == flood.Mode && r.Repetition == flood.Repetition);
                p99Ratios.Add(flood.P99 / baseline.P99);
                if (unprotected.TryGetValue(flood.Repetition, out double best) && best > 0)
                {
                    throughputRatios.Add(flood.ReportsPerSecond / best);
                }
            }

            summaries.Add(new ModeSummary(
                mode.Key,
                Median(mode.Select(r => r.P50)),
                Median(mode.Select(r => r.P99)),
                Median(mode.Select(r => r.P999)),
                Median(mode.Select(r => r.Max)),
                Median(mode.Select(r => r.ReportsPerSecond)),
                mode.Sum(r => r.Rejections),
                Median(p99Ratios), p99Ratios.Min(), p99Ratios.Max(),
                throughputRatios.Count > 0 ? Median(throughputRatios) : double.NaN,
                throughputRatios.Count > 0 ? throughputRatios.Min() : double.NaN,
                throughputRatios.Count > 0 ? throughputRatios.Max() : double.NaN,
                Median(mode.Select(r => r.ServerCores)),
                Median(mode.Select(r => r.DriverCores))));
        }

        return summaries;
    }

    /// <summary>The median with its min–max, as the tables give a figure over repetitions: "1.08× (0.97–1.20)".</summary>
    public static string Range(IReadOnlyCollection<double> values, string unit = "", string format = "F2")
    {
        if (values.Count == 0)
        {
            return "–";
        }

        CultureInfo c = CultureInfo.InvariantCulture;
        return $"{Median(values).ToString(format, c)}{unit} ({values.Min().ToString(format, c)}–{values.Max().ToString(format, c)})";
    }

    public static double Median(IEnumerable<double> values)
    {
        double[] sorted = [.. values.Order()];
        return sorted.Length == 0 ? double.NaN
            : sorted.Length % 2 == 1 ? sorted[sorted.Length / 2]
            : (sorted[(sorted.Length / 2) - 1] + sorted[sorted.Length / 2]) / 2;
    }
}
