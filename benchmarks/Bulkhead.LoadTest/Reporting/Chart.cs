using ScottPlot;

namespace Bulkhead.LoadTest.Reporting;

/// <summary>The chart docs/benchmarks.md embeds: interactive latency percentiles per mode, and report throughput.</summary>
public static class Chart
{
    public static void Save(IReadOnlyList<ModeSummary> summaries, string path)
    {
        ArgumentNullException.ThrowIfNull(summaries);

        var plot = new Plot();
        string[] labels = [.. summaries.Select(s => ResultsTable.Describe(s.Mode).Replace(", ", "\n", StringComparison.Ordinal))];
        var bars = new List<Bar>();
        for (int i = 0; i < summaries.Count; i++)
        {
            bars.Add(new Bar { Position = (i * 4) + 0, Value = summaries[i].P50, FillColor = Colors.SteelBlue });
            bars.Add(new Bar { Position = (i * 4) + 1, Value = summaries[i].P99, FillColor = Colors.Orange });
            bars.Add(new Bar { Position = (i * 4) + 2, Value = summaries[i].P999, FillColor = Colors.Crimson });
        }

        plot.Add.Bars(bars);
        plot.Axes.Bottom.SetTicks([.. Enumerable.Range(0, summaries.Count).Select(i => (i * 4) + 1.0)], labels);
        plot.Axes.Left.Label.Text = "interactive latency (ms): p50, p99, p99.9";
        plot.Axes.Right.Label.Text = "reports/s (line)";
        double[] xs = [.. Enumerable.Range(0, summaries.Count).Select(i => (i * 4) + 1.0)];
        double[] ys = [.. summaries.Select(s => s.ReportsPerSecond)];
        var throughput = plot.Add.Scatter(xs, ys);
        throughput.Axes.YAxis = plot.Axes.Right;
        throughput.LineWidth = 2;
        throughput.Color = Colors.Black;
        plot.Title("Interactive latency under a report flood, and report throughput");
        plot.Axes.Margins(bottom: 0);
        plot.SaveSvg(path, 1100, 500);
    }
}
