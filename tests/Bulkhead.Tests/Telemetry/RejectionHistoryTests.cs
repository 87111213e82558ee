using Bulkhead.Telemetry.Internal;
using Microsoft.Extensions.Time.Testing;

namespace Bulkhead.Tests.Telemetry;

public sealed class RejectionHistoryTests
{
    [Fact]
    public void Record_RejectionsLessThanASecondApart_FormOnePeriod_APauseStartsAnother()
    {
        var time = new FakeTimeProvider();
        var history = new RejectionHistory(time);

        for (int i = 0; i < 10; i++)
        {
            history.Record();
            time.Advance(TimeSpan.FromMilliseconds(900));
        }

        time.Advance(TimeSpan.FromSeconds(5));
        history.Record();

        IReadOnlyList<WorkloadRejectionPeriod> periods = history.Read();
        Assert.Equal(2, periods.Count);
        Assert.Equal((TimeSpan.Zero, TimeSpan.Zero, 1L), (periods[0].StartedAgo, periods[0].EndedAgo, periods[0].Rejected));
        Assert.Equal((TimeSpan.FromSeconds(14), TimeSpan.FromSeconds(5.9), 10L), (periods[1].StartedAgo, periods[1].EndedAgo, periods[1].Rejected));
    }

    [Fact]
    public void Record_MorePeriodsThanKept_TheOldestMerge_KeepingTheFirstStartAndEveryRejection()
    {
        var time = new FakeTimeProvider();
        var history = new RejectionHistory(time);

        for (int i = 0; i < 300; i++)
        {
            history.Record();
            time.Advance(TimeSpan.FromSeconds(2));
        }

        IReadOnlyList<WorkloadRejectionPeriod> periods = history.Read();
        Assert.Equal(RejectionHistory.MaxPeriods, periods.Count);
        Assert.Equal(TimeSpan.FromSeconds(600), periods[^1].StartedAgo);
        Assert.Equal(300, periods.Sum(p => p.Rejected));
    }

    [Fact]
    public async Task Record_ManyThreadsWithinOnePeriod_CountEveryRejectionWithoutTheLock()
    {
        var time = new FakeTimeProvider();
        var history = new RejectionHistory(time);
        history.Record();

        await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => Task.Run(() =>
        {
            for (int i = 0; i < 50_000; i++)
            {
                history.Record();
            }
        }))).WithTimeout();

        WorkloadRejectionPeriod period = Assert.Single(history.Read());
        Assert.Equal(200_001, period.Rejected);
    }

    [Fact]
    public void Read_PeriodsThatEndedOverAnHourAgo_AreForgotten()
    {
        var time = new FakeTimeProvider();
        var history = new RejectionHistory(time);
        history.Record();

        time.Advance(RejectionHistory.KeptFor + TimeSpan.FromSeconds(1));

        Assert.Empty(history.Read());
    }
}
