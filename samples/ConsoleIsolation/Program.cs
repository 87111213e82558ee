// The isolation demo: a flood of batch jobs arrives, then interactive requests. Each request's wait for a seat is
// measured twice: behind one shared limiter (what a host has without workload classes), and with Bulkhead's classes.
using System.Diagnostics;
using System.Globalization;
using System.Threading.RateLimiting;
using Bulkhead;
using Microsoft.Extensions.DependencyInjection;

const int Seats = 4;
const int BatchJobs = 200;
const int InteractiveRequests = 40;
TimeSpan batchWork = TimeSpan.FromMilliseconds(20);
TimeSpan interactiveWork = TimeSpan.FromMilliseconds(2);
TimeSpan interactiveEvery = TimeSpan.FromMilliseconds(10);

Console.WriteLine($"{BatchJobs} batch jobs of {batchWork.TotalMilliseconds} ms and {InteractiveRequests} interactive requests of "
    + $"{interactiveWork.TotalMilliseconds} ms (one every {interactiveEvery.TotalMilliseconds} ms) share {Seats} seats.");
Console.WriteLine();

// Without isolation: every unit of work queues for the same seats, first come first served.
using var shared = new ConcurrencyLimiter(new ConcurrencyLimiterOptions
{
    PermitLimit = Seats,
    QueueLimit = 10_000,
    QueueProcessingOrder = QueueProcessingOrder.OldestFirst,
});
Result unisolated = await RunScenario(async (_, ct) =>
{
    RateLimitLease lease = await shared.AcquireAsync(1, ct);
    return lease;
});

// With Bulkhead: interactive work has a reserved seat and the first claim on shared seats; batch may borrow the rest.
using ServiceProvider services = new ServiceCollection()
    .AddWorkloadIsolation(options =>
    {
        options.TotalConcurrency = Seats;
        options.DefaultClass = "interactive";
        options.AddClass("interactive", c => { c.Priority = 0; c.ReservedConcurrency = 1; });
        options.AddClass("batch", c => { c.Priority = 3; c.QueueLimit = 10_000; c.QueueTimeout = Timeout.InfiniteTimeSpan; });
    })
    .Services.BuildServiceProvider();
IWorkloadScheduler scheduler = services.GetRequiredService<IWorkloadScheduler>();
Result isolated = await RunScenario(async (workloadClass, ct) => await scheduler.AcquireAsync(workloadClass, cancellationToken: ct));

Console.WriteLine("| setup                         | interactive wait p50 | p99      | max      | batch jobs done | elapsed  |");
Console.WriteLine("|-------------------------------|---------------------:|---------:|---------:|----------------:|---------:|");
Print("one shared limiter", unisolated);
Print("Bulkhead workload classes", isolated);
Console.WriteLine();
Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
    $"Interactive p99 wait: {unisolated.P99.TotalMilliseconds:F1} ms without classes, {isolated.P99.TotalMilliseconds:F1} ms with Bulkhead; "
    + $"batch still finished all {isolated.BatchDone} jobs."));

async Task<Result> RunScenario(Func<string, CancellationToken, ValueTask<IDisposable>> acquire)
{
    var clock = Stopwatch.StartNew();
    Task[] batch = [.. Enumerable.Range(0, BatchJobs).Select(_ => Task.Run(async () =>
    {
        using IDisposable lease = await acquire("batch", CancellationToken.None);
        await Task.Delay(batchWork);
    }))];

    await Task.Delay(TimeSpan.FromMilliseconds(50));
    var waits = new List<TimeSpan>();
    var interactive = new List<Task>();
    for (int i = 0; i < InteractiveRequests; i++)
    {
        interactive.Add(Task.Run(async () =>
        {
            long arrived = Stopwatch.GetTimestamp();
            using IDisposable lease = await acquire("interactive", CancellationToken.None);
            TimeSpan waited = Stopwatch.GetElapsedTime(arrived);
            lock (waits)
            {
                waits.Add(waited);
            }

            await Task.Delay(interactiveWork);
        }));
        await Task.Delay(interactiveEvery);
    }

    await Task.WhenAll(interactive);
    await Task.WhenAll(batch);
    waits.Sort();
    return new Result(waits[waits.Count / 2], waits[(int)Math.Ceiling(waits.Count * 0.99) - 1], waits[^1], batch.Count(t => t.IsCompletedSuccessfully), clock.Elapsed);
}

static void Print(string name, Result r) => Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
    $"| {name,-29} | {r.P50.TotalMilliseconds,17:F1} ms | {r.P99.TotalMilliseconds,5:F1} ms | {r.Max.TotalMilliseconds,5:F1} ms | {r.BatchDone,15} | {r.Elapsed.TotalSeconds,6:F2} s |"));

internal sealed record Result(TimeSpan P50, TimeSpan P99, TimeSpan Max, int BatchDone, TimeSpan Elapsed);
