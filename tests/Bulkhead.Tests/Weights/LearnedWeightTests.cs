using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace Bulkhead.Tests.Weights;

/// <summary>Learned weight: per kind of work, the smoothed seat-holding time sets the weight, within the configured range.</summary>
public sealed class LearnedWeightTests
{
    private readonly FakeTimeProvider _time = new();

    [Fact]
    public void KindsOfWork_LearnTheWeightTheirSeatTimeStandsFor()
    {
        using TestScheduler scheduler = Create(new WorkloadLearnedWeightOptions { SeatTime = TimeSpan.FromMilliseconds(10), MaxWeight = 8, Smoothing = 1 });
        WorkloadClass reports = scheduler.GetClass("reports");

        // Not measured yet: MinWeight (1). Then each kind of work holds its seats for what it costs.
        Assert.Equal(1, HoldFor(scheduler, reports, "yearly", TimeSpan.FromMilliseconds(40)));
        Assert.Equal(1, HoldFor(scheduler, reports, "daily", TimeSpan.FromMilliseconds(4)));
        Assert.Equal(1, HoldFor(scheduler, reports, "archive", TimeSpan.FromMilliseconds(500)));

        Assert.Equal(4, HoldFor(scheduler, reports, "yearly", TimeSpan.FromMilliseconds(40)));
        Assert.Equal(1, HoldFor(scheduler, reports, "daily", TimeSpan.FromMilliseconds(4)));
        Assert.Equal(8, HoldFor(scheduler, reports, "archive", TimeSpan.FromMilliseconds(500)));

        WorkloadClassSnapshot snapshot = scheduler.GetSnapshot()["reports"];
        Assert.Equal(
            [new("archive", 8, TimeSpan.FromMilliseconds(500), 2), new("daily", 1, TimeSpan.FromMilliseconds(4), 2), new WorkloadLearnedWeight("yearly", 4, TimeSpan.FromMilliseconds(40), 2)],
            snapshot.LearnedWeights);
        Assert.Equal(0, snapshot.InFlight);
    }

    [Fact]
    public void TheEstimateIsSmoothed()
    {
        using TestScheduler scheduler = Create(new WorkloadLearnedWeightOptions { SeatTime = TimeSpan.FromMilliseconds(10), Smoothing = 0.5 });
        WorkloadClass reports = scheduler.GetClass("reports");

        HoldFor(scheduler, reports, "export", TimeSpan.FromMilliseconds(20));
        HoldFor(scheduler, reports, "export", TimeSpan.FromMilliseconds(60));

        // 20, then halfway to 60: 40 ms, weight 4. One slow unit moves it half the way, not all of it.
        Assert.Equal(new WorkloadLearnedWeight("export", 4, TimeSpan.FromMilliseconds(40), 2), scheduler.GetSnapshot()["reports"].LearnedWeights.Single());
    }

    [Fact]
    public async Task AWaitingUnit_IsMeasuredFromWhenItGetsItsSeats()
    {
        using TestScheduler scheduler = Create(new WorkloadLearnedWeightOptions { SeatTime = TimeSpan.FromMilliseconds(10), Smoothing = 1 }, total: 4);
        WorkloadClass reports = scheduler.GetClass("reports");
        WorkloadLease[] busy = [.. Enumerable.Range(0, 4).Select(_ => reports.TryAcquire())];
        Task<WorkloadLease> waiting = reports.AcquireAsync(new WorkloadRequest { CostKey = "yearly" }).AsTask();

        _time.Advance(TimeSpan.FromSeconds(1));
        busy[0].Dispose();
        using (WorkloadLease lease = await waiting.WithTimeout())
        {
            _time.Advance(TimeSpan.FromMilliseconds(30));
        }

        Assert.Equal(TimeSpan.FromMilliseconds(30), scheduler.GetSnapshot()["reports"].LearnedWeights.Single().SeatTime);
        Array.ForEach(busy, lease => lease.Dispose());
    }

    [Fact]
    public void AClassThatDoesNotLearn_TakesOneSeatAndKeepsNothing()
    {
        using TestScheduler scheduler = Create(learned: null);
        WorkloadClass reports = scheduler.GetClass("reports");

        Assert.Equal(1, HoldFor(scheduler, reports, "yearly", TimeSpan.FromMilliseconds(40)));
        Assert.Equal(1, HoldFor(scheduler, reports, "yearly", TimeSpan.FromMilliseconds(40)));
        Assert.Empty(scheduler.GetSnapshot()["reports"].LearnedWeights);
    }

    [Fact]
    public void WhatWasLearned_LastsAcrossAReload_AndTheNewRangeApplies()
    {
        using TestScheduler scheduler = Create(new WorkloadLearnedWeightOptions { SeatTime = TimeSpan.FromMilliseconds(10), Smoothing = 1 });
        WorkloadClass reports = scheduler.GetClass("reports");
        HoldFor(scheduler, reports, "yearly", TimeSpan.FromMilliseconds(60));

        scheduler.Apply(Options(new WorkloadLearnedWeightOptions { SeatTime = TimeSpan.FromMilliseconds(10), MaxWeight = 3 }, total: 16));

        Assert.Equal(3, HoldFor(scheduler, reports, "yearly", TimeSpan.FromMilliseconds(60)));
    }

    [Fact]
    public async Task JobItems_LearnByTheirJobType()
    {
        await using ServiceProvider services = new ServiceCollection()
            .AddSingleton<TimeProvider>(_time)
            .AddWorkloadIsolation(o => Configure(o, new WorkloadLearnedWeightOptions { SeatTime = TimeSpan.FromMilliseconds(10), Smoothing = 1 }, total: 16))
            .Services.BuildServiceProvider();
        IWorkloadJobQueue jobs = services.GetRequiredService<IWorkloadJobQueue>();
        IWorkloadScheduler scheduler = services.GetRequiredService<IWorkloadScheduler>();
        List<int> seen = [];

        for (int i = 0; i < 2; i++)
        {
            var ran = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            await jobs.EnqueueAsync("reports", _ => { seen.Add(scheduler.GetSnapshot()["reports"].InFlight); _time.Advance(TimeSpan.FromMilliseconds(50)); ran.SetResult(); return Task.CompletedTask; }).AsTask().WithTimeout();
            await ran.Task.WithTimeout();
            await Eventually.TrueAsync(() => scheduler.GetSnapshot()["reports"].InFlight == 0, "the item freed its seats");
        }

        Assert.Equal([1, 5], seen);
        Assert.Contains(nameof(JobItems_LearnByTheirJobType), scheduler.GetSnapshot()["reports"].LearnedWeights.Single().CostKey, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(0, 1, 8, 0.2, "SeatTime (00:00:00) must be positive")]
    [InlineData(10, 0, 8, 0.2, "MinWeight (0) must be 1 or more")]
    [InlineData(10, 4, 2, 0.2, "MaxWeight (2) at least MinWeight")]
    [InlineData(10, 1, 17, 0.2, "MaxWeight (17) is more seats than the class can ever give (16")]
    [InlineData(10, 1, 8, 0, "Smoothing (0) must be more than 0")]
    public void BadLearnedWeight_FailsStartUp(int seatTimeMs, int min, int max, double smoothing, string expected)
    {
        var learned = new WorkloadLearnedWeightOptions { SeatTime = TimeSpan.FromMilliseconds(seatTimeMs), MinWeight = min, MaxWeight = max, Smoothing = smoothing };
        using ServiceProvider services = new ServiceCollection().AddWorkloadIsolation(o => Configure(o, learned, total: 16)).Services.BuildServiceProvider();

        OptionsValidationException failure = Assert.Throws<OptionsValidationException>(() => services.GetRequiredService<IWorkloadScheduler>());

        Assert.Contains(expected, failure.Message, StringComparison.Ordinal);
    }

    /// <summary>Takes seats for a kind of work, holds them for <paramref name="held"/> on fake time, and returns how many it took.</summary>
    private int HoldFor(TestScheduler scheduler, WorkloadClass reports, string costKey, TimeSpan held)
    {
        using WorkloadLease lease = reports.TryAcquire(new WorkloadRequest { CostKey = costKey });
        Assert.True(lease.IsAcquired);
        int seats = scheduler.GetSnapshot()[reports.Name].InFlight;
        _time.Advance(held);
        return seats;
    }

    private TestScheduler Create(WorkloadLearnedWeightOptions? learned, int total = 16) => TestScheduler.Create(Options(learned, total), _time);

    private static WorkloadIsolationOptions Options(WorkloadLearnedWeightOptions? learned, int total)
    {
        var options = new WorkloadIsolationOptions();
        Configure(options, learned, total);
        return options;
    }

    private static void Configure(WorkloadIsolationOptions options, WorkloadLearnedWeightOptions? learned, int total)
    {
        options.TotalConcurrency = total;
        options.DefaultClass = "reports";
        options.AddClass("reports", c => (c.QueueLimit, c.QueueTimeout, c.LearnedWeight) = (10, Timeout.InfiniteTimeSpan, learned));
    }
}
