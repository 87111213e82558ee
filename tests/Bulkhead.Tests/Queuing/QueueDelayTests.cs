using Microsoft.Extensions.Time.Testing;

namespace Bulkhead.Tests.Queuing;

/// <summary>
/// Queue delay control (<see cref="WorkloadQueueDelayOptions"/>) on fake time: a burst queues for the whole
/// QueueTimeout; a queue that has held work for its interval stands, and work that starts waiting then waits at most
/// the target, newest first; under a sustained overload queue waits stay at the target while the seat stays busy.
/// </summary>
public sealed class QueueDelayTests(Xunit.Abstractions.ITestOutputHelper output)
{
    private static readonly TimeSpan Target = TimeSpan.FromMilliseconds(10);
    private static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(100);

    [Fact]
    public async Task ABurst_QueuesForTheWholeQueueTimeout()
    {
        var time = new FakeTimeProvider();
        using TestScheduler scheduler = TestScheduler.Create(Options(delay: true), time);
        WorkloadClass api = scheduler.GetClass("api");
        WorkloadLease running = api.TryAcquire();

        // Work has waited 50 ms, less than the interval: the queue absorbs a burst, and a newcomer may wait its 10 s.
        Task<WorkloadLease> first = api.AcquireAsync().AsTask();
        time.Advance(TimeSpan.FromMilliseconds(50));
        Task<WorkloadLease> second = api.AcquireAsync().AsTask();
        time.Advance(TimeSpan.FromSeconds(1));
        Assert.False(first.IsCompleted || second.IsCompleted);

        running.Dispose();
        using WorkloadLease served = await first.WithTimeout();
        Assert.True(served.IsAcquired);
        Assert.False(second.IsCompleted);
    }

    [Fact]
    public async Task AStandingQueue_TheNewcomerWaitsTheTarget_AndIsServedFirst_UntilTheQueueEmpties()
    {
        var time = new FakeTimeProvider();
        using TestScheduler scheduler = TestScheduler.Create(Options(delay: true), time);
        WorkloadClass api = scheduler.GetClass("api");
        WorkloadLease running = api.TryAcquire();
        Task<WorkloadLease> old = api.AcquireAsync().AsTask();
        time.Advance(Interval);

        // The queue has held work for the interval: it stands. The newcomer goes first, and leaves after the target.
        Task<WorkloadLease> newcomer = api.AcquireAsync().AsTask();
        running.Dispose();
        WorkloadLease next = await newcomer.WithTimeout();
        Assert.True(next.IsAcquired);
        Assert.False(old.IsCompleted);

        Task<WorkloadLease> late = api.AcquireAsync().AsTask();
        time.Advance(Target);
        Assert.Equal(WorkloadRejectionReason.QueueTimeout, (await late.WithTimeout()).RejectionReason);
        Assert.False(old.IsCompleted);

        // The old waiter is served; the queue is empty; the next queue to form absorbs a burst again.
        next.Dispose();
        WorkloadLease oldServed = await old.WithTimeout();
        Task<WorkloadLease> fresh = api.AcquireAsync().AsTask();
        time.Advance(TimeSpan.FromSeconds(1));
        Assert.False(fresh.IsCompleted);
        oldServed.Dispose();
        (await fresh.WithTimeout()).Dispose();
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void ASustainedOverload_QueueWaitsStayAtTheTarget_WhileTheSeatStaysBusy(bool delay)
    {
        // One seat, work of 10 ms, arrivals every 4 ms (2.5 times what it serves) for 5 s.
        (List<double> waitsMs, int served, double busy) = Simulate(delay);
        waitsMs.Sort();
        double p99 = waitsMs[(int)Math.Ceiling(0.99 * waitsMs.Count) - 1];
        output.WriteLine($"queue delay control {(delay ? "on" : "off")}: served {served}, seat busy {busy:P1}, steady-state wait p50 {waitsMs[waitsMs.Count / 2]} ms, p99 {p99} ms, max {waitsMs[^1]} ms");
        if (delay)
        {
            Assert.True(p99 <= Target.TotalMilliseconds, $"queue wait p99 {p99} ms");
            Assert.True(busy >= 0.99, $"the seat was busy {busy:P1} of the time");
        }
        else
        {
            // Without it the queue grows: work waits seconds for the same throughput.
            Assert.True(p99 >= 1_000, $"queue wait p99 {p99} ms");
            Assert.True(busy >= 0.99, $"the seat was busy {busy:P1} of the time");
        }

        Assert.InRange(served, 490, 500);
    }

    /// <summary>
    /// Runs the overload a millisecond at a time; returns the queue waits of the work served after the first second
    /// (steady state), how much was served, and the seat's busy share.
    /// </summary>
    internal static (List<double> WaitsMs, int Served, double Busy) Simulate(bool delay)
    {
        var time = new FakeTimeProvider();
        using TestScheduler scheduler = TestScheduler.Create(Options(delay), time);
        WorkloadClass api = scheduler.GetClass("api");
        List<(Task<WorkloadLease> Task, long At)> waiting = [];
        List<double> waits = [];
        WorkloadLease? running = null;
        long runningUntil = 0;
        int busyMs = 0;
        int served = 0;
        const int Milliseconds = 5_000;
        for (long ms = 0; ms < Milliseconds; ms++)
        {
            if (running is { } done && ms >= runningUntil)
            {
                done.Dispose();
                running = null;
            }

            if (ms % 4 == 0)
            {
                waiting.Add((api.AcquireAsync().AsTask(), ms));
            }

            foreach ((Task<WorkloadLease> task, long at) in waiting.Where(w => w.Task.IsCompleted).ToList())
            {
                waiting.Remove((task, at));
                WorkloadLease lease = task.Result;
                if (lease.IsAcquired)
                {
                    Assert.Null(running);
                    (running, runningUntil) = (lease, ms + 10);
                    if (ms >= 1_000)
                    {
                        // Steady state: the first interval's queue is a burst, absorbed by design.
                        waits.Add(ms - at);
                    }

                    served++;
                }
            }

            busyMs += running is null ? 0 : 1;
            time.Advance(TimeSpan.FromMilliseconds(1));
        }

        if (running is { } last)
        {
            last.Dispose();
        }

        foreach ((Task<WorkloadLease> task, _) in waiting)
        {
            if (task.IsCompletedSuccessfully)
            {
                task.Result.Dispose();
            }
        }

        return (waits, served, busyMs / (double)Milliseconds);
    }

    private static WorkloadIsolationOptions Options(bool delay)
    {
        var options = new WorkloadIsolationOptions { TotalConcurrency = 4, DefaultClass = "other" };
        options.AddClass("other", c => c.ReservedConcurrency = 3);
        options.AddClass("api", c =>
        {
            c.MaxConcurrency = 1;
            c.QueueLimit = 10_000;
            c.QueueTimeout = TimeSpan.FromSeconds(10);
            c.QueueDelay = delay ? new WorkloadQueueDelayOptions { Target = Target, Interval = Interval } : null;
        });
        return options;
    }
}
