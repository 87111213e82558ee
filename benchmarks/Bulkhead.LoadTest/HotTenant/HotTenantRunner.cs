using System.Globalization;
using System.Text;
using Bulkhead.LoadTest.Reporting;
using Spectre.Console;

namespace Bulkhead.LoadTest.HotTenant;

/// <summary>Runs the hot tenant for every mode, repeated; writes the table and a CSV of every tenant of every run.</summary>
public static class HotTenantRunner
{
    public static Task<IReadOnlyList<HotTenantResult>> RunAsync(LoadTestOptions options, IAnsiConsole console, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(console);
        return ScenarioRuns.RepeatAsync(options.HotTenantModes, options, console, Describe, (mode, repetition) => HotTenantDriver.RunAsync(mode, repetition, options, cancellationToken));
    }

    public static Task WriteAsync(IReadOnlyList<HotTenantResult> results, LoadTestOptions options, IAnsiConsole console, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(results);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(console);
        return ScenarioRuns.WriteAsync(
            "hot-tenant",
            ToMarkdown(results, options),
            ["mode,repetition,phase,tenant,offered,served,refused,p99_ms", .. results.SelectMany(r => r.Alone.Select(t => (Phase: "alone", Tenant: t)).Concat(r.WithHot.Select(t => (Phase: "with_hot", Tenant: t)))
                .Select(p => string.Create(CultureInfo.InvariantCulture, $"{r.Mode},{r.Repetition},{p.Phase},{p.Tenant.Tenant},{p.Tenant.Offered},{p.Tenant.Served},{p.Tenant.Refused},{p.Tenant.P99:F2}")))],
            options,
            console,
            cancellationToken);
    }

    public static string Describe(Mode mode) => mode switch
    {
        Mode.TenantNoIsolation => "no isolation",
        Mode.TenantAspNetPartitioned => "ASP.NET Core partitioned concurrency limiter (1 per tenant)",
        Mode.TenantBulkhead => "Bulkhead (2 seats per core, 1 per tenant, round robin across tenants)",
        Mode.TenantBulkheadBacklogIdle => "Bulkhead, as above, and a backlogged tenant's reports at Idle priority",
        _ => mode.ToString(),
    };

    public static string ToMarkdown(IReadOnlyList<HotTenantResult> results, LoadTestOptions options)
    {
        ArgumentNullException.ThrowIfNull(results);
        ArgumentNullException.ThrowIfNull(options);

        CultureInfo c = CultureInfo.InvariantCulture;
        var text = new StringBuilder();
        text.AppendLine(c, $"Ten tenants of one reporting class ({HotTenantServer.ReportCpuMs:F0} ms of CPU around a 5 ms await), each an open loop: {HotTenantDriver.QuietTenants} quiet ones at "
            + $"{options.TenantRate:0.#} requests/s, measured alone for {options.Duration.TotalSeconds:F0} s, then with the hot tenant at {options.TenantRate * 10:0.#} requests/s. "
            + $"p99 over every answered request (late ones included); shares and fairness over what was answered within the phase. {options.Repetitions} repetition(s); medians over the runs (min–max).");
        text.AppendLine();
        text.AppendLine("| mode | quiet tenants' p99 ÷ alone, median tenant | worst quiet tenant | quiet p99 alone → with the hot tenant | hot tenant's share of admissions | Jain's index (against max-min fair shares) | refused |");
        text.AppendLine("|---|---:|---:|---:|---:|---:|---:|");
        foreach (IGrouping<Mode, HotTenantResult> mode in results.GroupBy(r => r.Mode))
        {
            double[] median = [.. mode.Select(r => ModeSummary.Median(QuietRatios(r)))];
            double[] worst = [.. mode.Select(r => QuietRatios(r).Max())];
            double[] hotShare = [.. mode.Select(r => r.WithHot.Single(t => t.Hot).Served / (double)Math.Max(1, r.WithHot.Sum(t => t.Served)))];
            double[] jain = [.. mode.Select(r => Jain(r.WithHot))];
            text.AppendLine(c, $"| {Describe(mode.Key)} | {ModeSummary.Range(median, "×")} | {ModeSummary.Range(worst, "×")} | "
                + $"{ModeSummary.Median(mode.Select(r => ModeSummary.Median(r.Alone.Select(t => t.P99)))):F1} → {ModeSummary.Median(mode.Select(r => ModeSummary.Median(r.WithHot.Where(t => !t.Hot).Select(t => t.P99)))):F1} ms | "
                + $"{ModeSummary.Median(hotShare) * 100:F0} % | {ModeSummary.Range(jain)} | {mode.Sum(r => r.WithHot.Sum(t => t.Refused))} |");
        }

        return text.ToString();
    }

    /// <summary>Each quiet tenant's p99 with the hot tenant over its p99 alone.</summary>
    private static IEnumerable<double> QuietRatios(HotTenantResult run) =>
        run.WithHot.Where(t => !t.Hot).Select(t => t.P99 / Math.Max(0.001, run.Alone.Single(a => a.Tenant == t.Tenant).P99));

    /// <summary>
    /// Jain's fairness index of what each tenant was served against its max-min fair share of everything served (a
    /// tenant asking less than an equal share is owed what it asked; the rest is split equally among the others): 1 is
    /// perfectly fair.
    /// </summary>
    public static double Jain(IReadOnlyList<TenantStats> tenants)
    {
        ArgumentNullException.ThrowIfNull(tenants);
        double capacity = tenants.Sum(t => t.Served);
        Dictionary<string, double> share = [];
        List<TenantStats> left = [.. tenants.OrderBy(t => t.Offered)];
        while (left.Count > 0)
        {
            double equal = capacity / left.Count;
            TenantStats next = left[0];
            double owed = Math.Min(next.Offered, equal);
            share[next.Tenant] = owed;
            capacity -= owed;
            left.RemoveAt(0);
        }

        double[] x = [.. tenants.Select(t => share[t.Tenant] <= 0 ? 1 : t.Served / share[t.Tenant])];
        return x.Sum() * x.Sum() / (x.Length * x.Sum(v => v * v));
    }
}
