using System.Text.Json;
using Bulkhead.Admission.Internal;
using Bulkhead.Tests.Admission;
using Microsoft.Extensions.Time.Testing;

namespace Bulkhead.Tests.Telemetry;

/// <summary>The history the dashboard draws: 5-second samples of rates, seats, queue and p99 latencies, 15 minutes of them.</summary>
public sealed class WorkloadHistoryTests
{
    [Fact]
    public async Task ASample_HoldsTheIntervalsRates_AndTheP99OfQueueWaitAndSeatTime()
    {
        var time = new FakeTimeProvider();
        using WorkloadScheduler scheduler = SchedulerFactory.CreateWhiteBox(2, o => o.AddClass("reporting", c => { c.QueueLimit = 5; c.QueueTimeout = TimeSpan.FromSeconds(30); }), time);
        scheduler.History.Start();

        // Sixteen leases held 100 ms each, one after another: the first of them is timed (one in sixteen).
        for (int i = 0; i < 16; i++)
        {
            WorkloadLease lease = scheduler.TryAcquire("reporting");
            time.Advance(TimeSpan.FromMilliseconds(100));
            lease.Dispose();
        }

        // Both seats held: one waiter waits 400 ms for its seat, and five tries are refused.
        WorkloadLease first = scheduler.TryAcquire("reporting");
        WorkloadLease second = scheduler.TryAcquire("reporting");
        Task<WorkloadLease> waiting = scheduler.AcquireAsync("reporting").AsTask();
        for (int i = 0; i < 5; i++)
        {
            Assert.False(scheduler.TryAcquire("reporting").IsAcquired);
        }

        time.Advance(TimeSpan.FromMilliseconds(400));
        first.Dispose();
        (await waiting.WithTimeout()).Dispose();
        second.Dispose();
        Assert.Empty(Samples(scheduler, "reporting"));

        time.Advance(TimeSpan.FromSeconds(5) - TimeSpan.FromMilliseconds(2_000));
        JsonElement sample = Assert.Single(Samples(scheduler, "reporting"));

        // 19 admitted and 5 refused in 5 s. One wait in 19 admissions: the 99th percentile is that wait. The 1st and the
        // 17th lease were timed (100 ms, and 400 ms for the one held while the waiter waited): the 99th is the longer.
        Assert.Equal(19 / 5.0, sample.GetProperty("admittedPerSecond").GetDouble());
        Assert.Equal(5 / 5.0, sample.GetProperty("rejectedPerSecond").GetDouble());
        Assert.InRange(sample.GetProperty("queueWaitP99Ms").GetDouble(), 400 * 0.968, 400 * 1.032);
        Assert.InRange(sample.GetProperty("seatTimeP99Ms").GetDouble(), 400 * 0.968, 400 * 1.032);
        Assert.Equal((0, 0, 2), (sample.GetProperty("inFlight").GetInt32(), sample.GetProperty("queued").GetInt32(), sample.GetProperty("maxConcurrency").GetInt32()));
        Assert.Equal(time.GetUtcNow().ToUnixTimeMilliseconds(), sample.GetProperty("at").GetInt64());

        // An idle interval: nothing per second, and no duration to take a percentile of.
        time.Advance(TimeSpan.FromSeconds(5));
        JsonElement idle = Samples(scheduler, "reporting")[^1];
        Assert.Equal(0, idle.GetProperty("admittedPerSecond").GetDouble());
        Assert.Equal(JsonValueKind.Null, idle.GetProperty("queueWaitP99Ms").ValueKind);
        Assert.Equal(JsonValueKind.Null, idle.GetProperty("seatTimeP99Ms").ValueKind);
    }

    [Fact]
    public void TheHistory_KeepsFifteenMinutes_ForTheClassesInForce_AndNothingBeforeItStarts()
    {
        var time = new FakeTimeProvider();
        using WorkloadScheduler scheduler = SchedulerFactory.CreateWhiteBox(2, o => o.AddClass("interactive").AddClass("batch", c => c.Priority = 3), time);
        time.Advance(TimeSpan.FromMinutes(1));
        Assert.False(Read(scheduler).GetProperty("started").GetBoolean());
        Assert.Equal(0, Read(scheduler).GetProperty("classes").GetArrayLength());

        scheduler.History.Start();
        scheduler.History.Start();                                          // once
        for (int i = 0; i < 200; i++)
        {
            time.Advance(TimeSpan.FromSeconds(5));
        }

        JsonElement history = Read(scheduler);
        Assert.True(history.GetProperty("started").GetBoolean());
        Assert.Equal((5.0, 900.0), (history.GetProperty("intervalSeconds").GetDouble(), history.GetProperty("windowSeconds").GetDouble()));
        Assert.Equal(["interactive", "batch"], history.GetProperty("classes").EnumerateArray().Select(c => c.GetProperty("name").GetString()));
        JsonElement[] samples = Samples(scheduler, "batch");
        Assert.Equal(180, samples.Length);
        Assert.Equal(TimeSpan.FromSeconds(5 * 179), TimeSpan.FromMilliseconds(samples[^1].GetProperty("at").GetInt64() - samples[0].GetProperty("at").GetInt64()));

        // A class removed leaves the page with the configuration.
        var options = new WorkloadIsolationOptions { TotalConcurrency = 2, DefaultClass = "interactive" };
        options.AddClass("interactive");
        scheduler.Apply(options);
        time.Advance(TimeSpan.FromSeconds(5));
        Assert.Equal(["interactive"], Read(scheduler).GetProperty("classes").EnumerateArray().Select(c => c.GetProperty("name").GetString()));
    }

    private static JsonElement[] Samples(WorkloadScheduler scheduler, string workloadClass) =>
        [.. Read(scheduler).GetProperty("classes").EnumerateArray().Single(c => c.GetProperty("name").GetString() == workloadClass).GetProperty("samples").EnumerateArray()];

    private static JsonElement Read(WorkloadScheduler scheduler)
    {
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            scheduler.History.WriteTo(writer);
        }

        return JsonDocument.Parse(buffer.ToArray()).RootElement.Clone();
    }
}
