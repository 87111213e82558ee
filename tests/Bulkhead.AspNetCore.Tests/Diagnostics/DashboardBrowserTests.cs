using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;

namespace Bulkhead.AspNetCore.Tests.Diagnostics;

/// <summary>
/// The dashboard in a real browser: headless chromium loads it from Kestrel on 127.0.0.1 while work runs, its script
/// fetches the snapshot and renders it, and the rendered DOM shows each class with its live numbers.
/// </summary>
public sealed partial class DashboardBrowserTests
{
    [BrowserFact]
    public async Task Dashboard_RendersEveryClassWithItsLiveNumbers()
    {
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using TestApp app = await TestApp.StartAsync(
            o =>
            {
                o.TotalConcurrency = 8;
                o.DefaultClass = "interactive";
                o.AddClass("interactive", c => c.ReservedConcurrency = 2);
                o.AddClass("reporting", c => { c.Priority = 2; c.MaxConcurrency = 2; c.QueueLimit = 3; });
                o.AddClass("batch", c => { c.Priority = 3; c.MaxConcurrency = 1; c.Execution = new WorkloadExecutionOptions { DedicatedThreads = 1 }; });

                // An objective no ThreadPool misses: shown on the page, never cutting a limit.
                o.Adaptive.Enabled = true;
                o.Adaptive.ThreadPoolDelayP99 = TimeSpan.FromSeconds(5);
            },
            a =>
            {
                a.MapWorkloadIsolationDiagnostics();
                a.MapGet("/reports", async () => { await gate.Task; return "report"; }).WithWorkloadClass("reporting");
            },
            kestrel: true);
        string address = app.App.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();
        using var client = new HttpClient { BaseAddress = new Uri(address) };

        // Work runs while the page loads: two reports hold reporting's seats, three wait, one more is refused.
        Task<HttpResponseMessage>[] reports = [.. Enumerable.Range(0, 5).Select(_ => client.GetAsync(new Uri("/reports", UriKind.Relative)))];
        await Eventually.TrueAsync(() => app.Snapshot["reporting"] is { InFlight: 2, Queued: 3 }, "two reports run and three wait");
        using (HttpResponseMessage refused = await client.GetAsync(new Uri("/reports", UriKind.Relative)))
        {
            Assert.Equal(System.Net.HttpStatusCode.ServiceUnavailable, refused.StatusCode);
        }

        try
        {
            string url = $"{address}/_bulkhead";
            string dom = await Chromium.RunAsync(["--virtual-time-budget=5000", "--dump-dom", url], TimeSpan.FromSeconds(90));

            Assert.Matches(StatusLive(), dom);
            Assert.Equal(["interactive", "reporting", "batch"], ClassRows().Matches(dom).Select(m => m.Groups["name"].Value));
            string reporting = Row(dom, "reporting");
            Assert.Equal("2", Field(reporting, "inFlight"));
            Assert.Equal("2", Field(reporting, "maxConcurrency"));
            Assert.Equal("3", Field(reporting, "queued"));
            Assert.Equal("3", Field(reporting, "queueLimit"));
            Assert.Equal("1", Field(reporting, "rejected"));
            Assert.Equal("QueueFull 1", Field(reporting, "reasons"));
            Assert.Contains("<polyline", reporting, StringComparison.Ordinal);    // the history chart was drawn
            Assert.Equal("default", Field(Row(dom, "interactive"), "badges"));
            Assert.Equal("1 thread", Field(Row(dom, "batch"), "badges"));                // not "1 threads"
            Assert.Equal("2", Field(Row(dom, "interactive"), "reservedConcurrency"));
            Assert.Matches("<div id=\"threadPool\">", dom);                        // shown, not hidden
            Assert.Equal("5.0 s", Field(dom, "threadPoolDelayObjective"));

            // A picture of the same page for the docs (docs/dashboard.png is one taken so).
            string screenshot = Path.Combine(AppContext.BaseDirectory, "dashboard.png");
            File.Delete(screenshot);
            await Chromium.RunAsync(["--virtual-time-budget=30000", "--hide-scrollbars", "--window-size=1400,420", $"--screenshot={screenshot}", url], TimeSpan.FromSeconds(90));
            Assert.True(new FileInfo(screenshot).Length > 10_000, "the screenshot has content");
        }
        finally
        {
            gate.SetResult();
            foreach (Task<HttpResponseMessage> report in reports)
            {
                (await report.WithTimeout()).Dispose();
            }
        }
    }

    private static string Row(string dom, string workloadClass)
    {
        Match row = Regex.Match(dom, $"<tr data-class=\"{workloadClass}\">(.*?)</tr>", RegexOptions.Singleline);
        Assert.True(row.Success, $"no row for {workloadClass} in the rendered page");
        return row.Groups[1].Value;
    }

    private static string Field(string row, string field)
    {
        Match value = Regex.Match(row, $"data-field=\"{field}\"[^>]*>([^<]*)<");
        Assert.True(value.Success, $"no {field} in the row");
        return value.Groups[1].Value;
    }

    [GeneratedRegex("<tr data-class=\"(?<name>[^\"]+)\">")]
    private static partial Regex ClassRows();

    [GeneratedRegex("id=\"status\" data-state=\"live\"")]
    private static partial Regex StatusLive();
}
