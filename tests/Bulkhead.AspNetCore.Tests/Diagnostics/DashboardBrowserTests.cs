using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

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

        // The engine and its history run on a clock the test moves: the history's samples and their figures are exact.
        var time = new FakeTimeProvider();
        await using TestApp app = await TestApp.StartAsync(
            o =>
            {
                o.TotalConcurrency = 8;
                o.DefaultClass = "interactive";
                o.AddClass("interactive", c => c.ReservedConcurrency = 2);
                o.AddClass("reporting", c => { c.Priority = 2; c.MaxConcurrency = 2; c.QueueLimit = 3; });
                o.AddClass("batch", c =>
                {
                    c.Priority = 3;
                    c.MaxConcurrency = 1;
                    c.Execution = new WorkloadExecutionOptions { DedicatedThreads = 1 };
                    c.Shed = new WorkloadShedOptions { MemoryAbove = 0.6 };
                });

                // An objective no ThreadPool misses: shown on the page, never cutting a limit.
                o.Adaptive.Enabled = true;
                o.Adaptive.ThreadPoolDelayP99 = TimeSpan.FromSeconds(5);
            },
            a =>
            {
                a.MapWorkloadIsolationDiagnostics();
                a.MapGet("/reports", async () => { await gate.Task; return "report"; }).WithWorkloadClass("reporting");
            },
            services => services.AddSingleton<TimeProvider>(time),
            kestrel: true);

        // Readings the test chooses (the monitor reads them each second of fake time): memory sheds batch.
        ((Bulkhead.Admission.Internal.WorkloadScheduler)app.Scheduler).Pressure.Probe = new StillProbe();
        string address = app.App.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();
        using var client = new HttpClient { BaseAddress = new Uri(address) };

        // Work runs while the page loads: two reports hold reporting's seats, three wait, one more is refused.
        Task<HttpResponseMessage>[] reports = [.. Enumerable.Range(0, 5).Select(_ => client.GetAsync(new Uri("/reports", UriKind.Relative)))];
        await Eventually.TrueAsync(() => app.Snapshot["reporting"] is { InFlight: 2, Queued: 3 }, "two reports run and three wait");
        using (HttpResponseMessage refused = await client.GetAsync(new Uri("/reports", UriKind.Relative)))
        {
            Assert.Equal(System.Net.HttpStatusCode.ServiceUnavailable, refused.StatusCode);
        }

        // The interval ends: reporting admitted 2 and refused 1 in 5 s, both without waiting.
        time.Advance(TimeSpan.FromSeconds(5));

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
            Assert.Equal("0.4", Field(reporting, "admittedPerSecond"));
            Assert.Equal("0.2", Field(reporting, "rejectedPerSecond"));
            Assert.Equal("0.00 ms", Field(reporting, "queueWaitP99"));
            Assert.Equal("–", Field(reporting, "seatTimeP99"));                       // no seat freed yet
            Assert.Matches("<polyline [^>]*points=\"[0-9.]+,[0-9.]+\"", reporting);  // the rates chart has its point
            Assert.Contains(">max 0.4 /s<", reporting, StringComparison.Ordinal);     // and its scale
            Assert.Contains(">−15 min<", reporting, StringComparison.Ordinal);
            Assert.Equal("default", Field(Row(dom, "interactive"), "badges"));
            Assert.Equal("shed: memory pressure · 1 thread", Field(Row(dom, "batch"), "badges")); // not "1 threads"
            Assert.Equal(", shed (1 configured)", Field(Row(dom, "batch"), "adaptive"));
            Assert.Matches("<div id=\"pressure\">", dom);
            Assert.Equal(("42 %", "2 CPU", "63 %", "512 MiB", "3 MiB/s"), (Field(dom, "cpuUtilization"), Field(dom, "cpuCapacity"), Field(dom, "memoryLoad"), Field(dom, "memoryLimit"), Field(dom, "allocationRate")));
            Assert.Equal("2", Field(Row(dom, "interactive"), "reservedConcurrency"));
            Assert.Matches("<div id=\"threadPool\">", dom);                        // shown, not hidden
            Assert.Equal("5.0 s", Field(dom, "threadPoolDelayObjective"));

        }
        finally
        {
            gate.SetResult();
            foreach (Task<HttpResponseMessage> report in reports)
            {
                (await report.WithTimeout()).Dispose();
            }
        }

        // A picture for the docs (docs/dashboard.png is one taken so): a quiet quarter of an hour, then a report flood.
        await FloodAsync(app.Scheduler.GetClass("interactive"), app.Scheduler.GetClass("reporting"), time);
        string screenshot = Path.Combine(AppContext.BaseDirectory, "dashboard.png");
        File.Delete(screenshot);
        await Chromium.RunAsync(["--virtual-time-budget=5000", "--hide-scrollbars", "--window-size=1600,520", $"--screenshot={screenshot}", $"{address}/_bulkhead"], TimeSpan.FromSeconds(90));
        Assert.True(new FileInfo(screenshot).Length > 10_000, "the screenshot has content");
    }

    /// <summary>
    /// Fifteen minutes of work through the engine on the fake clock: interactive requests of 10 ms, reports of half a
    /// second, and for the last three minutes a flood of reports that queue for their seats and are refused by the dozen.
    /// Ends with the flood still on: both report seats held and the queue full.
    /// </summary>
    private static async Task FloodAsync(WorkloadClass interactive, WorkloadClass reporting, FakeTimeProvider time)
    {
        TimeSpan interval = TimeSpan.FromSeconds(5);
        for (int k = 0; k < 180; k++)
        {
            bool flood = k >= 144;
            TimeSpan spent = TimeSpan.Zero;
            void Spend(TimeSpan span)
            {
                time.Advance(span);
                spent += span;
            }

            for (int i = 0; i < 20 + (k % 7); i++)
            {
                WorkloadLease request = interactive.TryAcquire();
                Spend(TimeSpan.FromMilliseconds(flood ? 14 : 10));
                request.Dispose();
            }

            WorkloadLease[] reports = [reporting.TryAcquire(), reporting.TryAcquire()];
            Task<WorkloadLease>[] waiting = flood ? [.. Enumerable.Range(0, 3).Select(_ => reporting.AcquireAsync().AsTask())] : [];
            for (int i = 0; i < (flood ? 40 + (k % 5) : 0); i++)
            {
                reporting.TryAcquire().Dispose();                            // refused: the queue is full
            }

            Spend(TimeSpan.FromMilliseconds(500 + (k % 4) * 50));
            if (k == 179)
            {
                break;
            }

            foreach (WorkloadLease report in reports)
            {
                report.Dispose();
            }

            foreach (Task<WorkloadLease> next in waiting)
            {
                WorkloadLease report = await next.WithTimeout();
                Spend(TimeSpan.FromMilliseconds(450));
                report.Dispose();
            }

            time.Advance(interval - spent);
        }
    }

    /// <summary>The same reading every time: 42 % CPU of 2, memory 63 % of 512 MiB, 3 MiB allocated a second.</summary>
    private sealed class StillProbe() : Bulkhead.Pressure.Internal.PressureProbe(capacity: 2)
    {
        public override Bulkhead.Pressure.Internal.PressureSample Read() => new(0.42, 0.63, 3 * 1048576, 2, 512L * 1048576);
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
