using System.Net;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry.Metrics;

namespace Bulkhead.AspNetCore.Tests.Diagnostics;

/// <summary>
/// The meter through OpenTelemetry's Prometheus exporter, wired as samples/WebApi wires it: every metric name the
/// queries in docs/metrics.md use is one a real scrape has.
/// </summary>
/// <remarks>
/// OpenTelemetry listens to every meter named <c>Bulkhead</c> in the process, whichever host made it, so this test runs
/// alone: the apps of other tests running beside it would add their own instruments of the same names to its scrape.
/// </remarks>
[Collection(nameof(ProcessWideMetrics))]
public sealed partial class PrometheusScrapeTests
{
    [Fact]
    public async Task EveryNameTheDocsQueriesUse_IsInARealScrape()
    {
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using TestApp app = await TestApp.StartAsync(
            o =>
            {
                o.TotalConcurrency = 4;
                o.DefaultClass = "interactive";
                (o.Adaptive.Enabled, o.Adaptive.Window, o.Adaptive.MinSamples) = (true, TimeSpan.FromMilliseconds(20), 1);
                o.AddClass("interactive", c => c.Objective = new WorkloadObjectiveOptions { SeatTimeP99 = TimeSpan.FromMilliseconds(100) });
                o.AddClass("reporting", c => { c.Priority = 2; c.MaxConcurrency = 1; c.QueueLimit = 1; });
            },
            a =>
            {
                a.MapPrometheusScrapingEndpoint().DisableWorkloadIsolation();
                a.MapGet("/reports", async () => { await gate.Task; return "report"; }).WithWorkloadClass("reporting");
                a.MapGet("/hello", () => "hello");
            },
            services => services.AddOpenTelemetry().WithMetrics(metrics => metrics
                .AddMeter(WorkloadIsolationTelemetry.MeterName)
                .AddPrometheusExporter(o => o.ScrapeResponseCacheDurationMilliseconds = 0)));
        using HttpClient client = app.CreateClient();

        // Admitted, queued then admitted, rejected (queue full); a job item; a request naming no class.
        Task<HttpResponseMessage> running = client.GetAsync(new Uri("/reports", UriKind.Relative));
        await Eventually.TrueAsync(() => app.Snapshot["reporting"].InFlight == 1, "a report runs");
        Task<HttpResponseMessage> waiting = client.GetAsync(new Uri("/reports", UriKind.Relative));
        await Eventually.TrueAsync(() => app.Snapshot["reporting"].Queued == 1, "a report waits");
        using (HttpResponseMessage refused = await client.GetAsync(new Uri("/reports", UriKind.Relative)))
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, refused.StatusCode);
        }

        gate.SetResult();
        (await running.WithTimeout()).Dispose();
        (await waiting.WithTimeout()).Dispose();
        await app.App.Services.GetRequiredService<IWorkloadJobQueue>().EnqueueAsync("reporting", _ => ValueTask.CompletedTask);
        await Eventually.TrueAsync(() => app.Snapshot["reporting"].Jobs.Completed == 1, "the job item ran");
        await Eventually.TrueAsync(
            () =>
            {
                client.GetAsync(new Uri("/hello", UriKind.Relative)).GetAwaiter().GetResult().Dispose();
                return app.Snapshot["interactive"].MeasuredSeatTimeP99 is not null;
            },
            "adaptive protection measured the interactive class");

        string scrape = await client.GetStringAsync(new Uri("/metrics", UriKind.Relative));
        string docs = Repository.ReadAllText("docs", "metrics.md");
        string queries = docs.Split("### Questions")[1].Split("## The snapshot")[0];

        // Label names live in selectors and in by/on clauses; what is left are metric names.
        string[] queried = [.. MetricName().Matches(LabelContexts().Replace(queries, string.Empty)).Select(m => m.Value).Distinct()];

        Assert.True(queried.Length >= 8, $"the queries name only {queried.Length} metrics");
        Assert.All(queried, name => Assert.Matches($"(?m)^{name}\\{{", scrape));
        Assert.Matches("(?m)^bulkhead_work_decisions_total\\{[^}]*bulkhead_rejection_reason=\"queue_full\"[^}]*bulkhead_result=\"rejected\"[^}]*bulkhead_workload_class=\"reporting\"[^}]*\\} 1", scrape);
        Assert.Matches("(?m)^bulkhead_work_queue_duration_seconds_count\\{[^}]*bulkhead_result=\"admitted\"[^}]*bulkhead_workload_class=\"reporting\"[^}]*\\} 1", scrape);
        Assert.Matches("(?m)^bulkhead_job_items_total\\{[^}]*bulkhead_job_outcome=\"completed\"[^}]*bulkhead_workload_class=\"reporting\"[^}]*\\} 1", scrape);
        Assert.DoesNotMatch("(?m)^bulkhead_job_items_total\\{[^}]*bulkhead_workload_class=\"interactive\"", scrape);     // no job series for classes without jobs
    }

    [GeneratedRegex("bulkhead_[a-z_]+[a-z]")]
    private static partial Regex MetricName();

    [GeneratedRegex(@"\{[^}]*\}|\b(?:by|on) \([^)]*\)")]
    private static partial Regex LabelContexts();
}

/// <summary>Tests that listen to every meter of the process run alone, after the others.</summary>
[CollectionDefinition(nameof(ProcessWideMetrics), DisableParallelization = true)]
public sealed class ProcessWideMetrics;
