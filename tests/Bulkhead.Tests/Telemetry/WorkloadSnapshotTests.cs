using Bulkhead.Tests.Admission;

namespace Bulkhead.Tests.Telemetry;

public sealed class WorkloadSnapshotTests
{
    [Fact]
    public async Task RejectionsByReasonAndOldestWaiter_AreInTheSnapshot()
    {
        var time = new Microsoft.Extensions.Time.Testing.FakeTimeProvider();
        using TestScheduler scheduler = SchedulerFactory.Create(1, o => o
            .AddClass("batch", c => { c.QueueLimit = 1; c.QueueTimeout = TimeSpan.FromSeconds(10); })
            .AddClass("rated", c => { c.Priority = 2; c.RateLimit = new WorkloadRateLimitOptions { PermitsPerSecond = 1, Burst = 1 }; }), time);
        WorkloadLease held = scheduler.TryAcquire("batch");
        Assert.Null(scheduler.GetSnapshot()["batch"].OldestWaiterAge);

        Task<WorkloadLease> first = scheduler.AcquireAsync("batch").AsTask();
        time.Advance(TimeSpan.FromSeconds(3));
        Task<WorkloadLease> second = scheduler.AcquireAsync("batch").AsTask();     // queue full: QueueFull
        Assert.Equal(TimeSpan.FromSeconds(3), scheduler.GetSnapshot()["batch"].OldestWaiterAge);
        time.Advance(TimeSpan.FromSeconds(7));                                       // the first times out: QueueTimeout
        scheduler.TryAcquire("rated").Dispose();
        WorkloadLease limited = scheduler.TryAcquire("rated");                      // RateLimited

        Assert.Equal(WorkloadRejectionReason.QueueFull, (await second.WithTimeout()).RejectionReason);
        Assert.Equal(WorkloadRejectionReason.QueueTimeout, (await first.WithTimeout()).RejectionReason);
        Assert.Equal(WorkloadRejectionReason.RateLimited, limited.RejectionReason);
        WorkloadClassSnapshot batch = scheduler.GetSnapshot()["batch"];
        Assert.Equal((2L, 1L, 1L, 0L), (batch.Rejected, batch.RejectedByReason[WorkloadRejectionReason.QueueFull], batch.RejectedByReason[WorkloadRejectionReason.QueueTimeout], batch.RejectedByReason[WorkloadRejectionReason.RateLimited]));
        Assert.Null(batch.OldestWaiterAge);
        Assert.Equal(1L, scheduler.GetSnapshot()["rated"].RejectedByReason[WorkloadRejectionReason.RateLimited]);
        held.Dispose();
    }

    [Fact]
    public void Indexer_NameInOtherCase_FindsTheClass_UnknownNameThrows()
    {
        using TestScheduler scheduler = SchedulerFactory.Create(4, o => o.AddClass("Reporting").AddClass("batch", c => c.Priority = 3));
        WorkloadSnapshot snapshot = scheduler.GetSnapshot();

        Assert.Equal("Reporting", snapshot["reporting"].Name);
        KeyNotFoundException exception = Assert.Throws<KeyNotFoundException>(() => snapshot["nope"]);
        Assert.Contains("'nope'", exception.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Constructor_NullClasses_Throws()
    {
        Assert.Throws<ArgumentNullException>(() => new WorkloadSnapshot(null!));
    }
}
