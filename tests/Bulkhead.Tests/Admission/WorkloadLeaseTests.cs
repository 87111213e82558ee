namespace Bulkhead.Tests.Admission;

public sealed class WorkloadLeaseTests
{
    [Theory]
    [InlineData(WorkloadRejectionReason.QueueFull)]
    [InlineData(WorkloadRejectionReason.QueueTimeout)]
    [InlineData(WorkloadRejectionReason.RateLimited)]
    [InlineData(WorkloadRejectionReason.ShuttingDown)]
    public void Rejected_WithRetryAfter_KeepsReasonAndRetryAfter(WorkloadRejectionReason reason)
    {
        var lease = new WorkloadLease("reporting", reason, TimeSpan.FromMilliseconds(1500));

        Assert.False(lease.IsAcquired);
        Assert.Equal(reason, lease.RejectionReason);
        Assert.Equal(TimeSpan.FromMilliseconds(1500), lease.RetryAfter);
        Assert.Equal("reporting", lease.WorkloadClass);
    }

    [Fact]
    public void Rejected_WithoutRetryAfter_HasNoRetryAfter()
    {
        var lease = new WorkloadLease("batch", WorkloadRejectionReason.ShuttingDown, retryAfter: null);

        Assert.Null(lease.RetryAfter);
        Assert.Equal(WorkloadRejectionReason.ShuttingDown, lease.RejectionReason);
    }

    [Fact]
    public void Rejected_HugeRetryAfter_IsClampedNotWrapped()
    {
        var lease = new WorkloadLease("batch", WorkloadRejectionReason.RateLimited, TimeSpan.MaxValue);

        Assert.Equal(WorkloadRejectionReason.RateLimited, lease.RejectionReason);
        Assert.True(lease.RetryAfter > TimeSpan.FromDays(10_000));
    }

    [Fact]
    public void Equality_SameRejection_IsEqual_DifferentReason_IsNot()
    {
        var a = new WorkloadLease("batch", WorkloadRejectionReason.QueueFull, null);
        var b = new WorkloadLease("batch", WorkloadRejectionReason.QueueFull, null);
        var c = new WorkloadLease("batch", WorkloadRejectionReason.QueueTimeout, null);

        Assert.True(a == b);
        Assert.True(a != c);
        Assert.Equal(a.GetHashCode(), b.GetHashCode());
        Assert.Equal("Rejected (batch: QueueFull)", a.ToString());
        Assert.Equal("Empty", default(WorkloadLease).ToString());
    }
}
