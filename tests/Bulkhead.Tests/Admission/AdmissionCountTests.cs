using Bulkhead.Admission.Internal;

namespace Bulkhead.Tests.Admission;

/// <summary>
/// The seat word counts admissions in 16 bits; the engine's lock carries them over when they wrap, so the count users
/// see stays exact however many admissions there are, from one thread or many.
/// </summary>
public sealed class AdmissionCountTests
{
    [Fact]
    public async Task Admitted_ManyTimesTheSeatWordsCount_StaysExact()
    {
        using WorkloadScheduler scheduler = SchedulerFactory.CreateWhiteBox(4, o => o.AddClass("interactive", c => c.ReservedConcurrency = 1).AddClass("batch"));
        const int Cycles = 3 * (ClassState.AdmittedLowMax + 1) + 123;

        for (int i = 0; i < Cycles; i++)
        {
            using WorkloadLease lease = i % 3 == 0
                ? await scheduler.AcquireAsync("batch")
                : scheduler.TryAcquire("batch");
            Assert.True(lease.IsAcquired);
        }

        Assert.Equal(Cycles, scheduler.GetSnapshot()["batch"].Admitted);
        Assert.Equal(0, scheduler.GetSnapshot()["batch"].InFlight);
    }

    [Fact]
    public async Task Admitted_ManyThreadsAcrossWraps_StaysExactAndLeaksNoSeat()
    {
        using WorkloadScheduler scheduler = SchedulerFactory.CreateWhiteBox(3, o => o
            .AddClass("interactive", c => { c.ReservedConcurrency = 1; c.QueueLimit = 1_000; c.QueueTimeout = Timeout.InfiniteTimeSpan; })
            .AddClass("batch", c => { c.Priority = 2; c.MaxConcurrency = 2; c.QueueLimit = 1_000; c.QueueTimeout = Timeout.InfiniteTimeSpan; }));
        const int PerWorker = 40_000;
        string[] classes = ["interactive", "batch"];

        Task[] workers = [.. Enumerable.Range(0, 4).Select(w => Task.Run(async () =>
        {
            for (int i = 0; i < PerWorker; i++)
            {
                using WorkloadLease lease = await scheduler.AcquireAsync(classes[(w + i) % 2]);
                Assert.True(lease.IsAcquired);
            }
        }))];
        await Task.WhenAll(workers).WaitAsync(TimeSpan.FromSeconds(60));

        WorkloadSnapshot snapshot = scheduler.GetSnapshot();
        Assert.Equal(4L * PerWorker, snapshot.Classes.Sum(c => c.Admitted));
        Assert.Equal(2L * PerWorker, snapshot["batch"].Admitted);
        Assert.All(snapshot.Classes, c => Assert.Equal((c.Name, 0, 0), (c.Name, c.InFlight, c.Queued)));
        Assert.Equal(0, scheduler.Engine.SharedInUse);
    }
}
