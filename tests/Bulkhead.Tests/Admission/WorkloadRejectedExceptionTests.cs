namespace Bulkhead.Tests.Admission;

public sealed class WorkloadRejectedExceptionTests
{
    [Fact]
    public void Constructor_Rejection_KeepsClassReasonAndRetryAfterInTheMessage()
    {
        var exception = new WorkloadRejectedException("reporting", WorkloadRejectionReason.RateLimited, TimeSpan.FromSeconds(2));

        Assert.Equal(("reporting", WorkloadRejectionReason.RateLimited, (TimeSpan?)TimeSpan.FromSeconds(2)), (exception.WorkloadClass, exception.Reason, exception.RetryAfter));
        Assert.Equal("Workload class 'reporting' rejected the work: RateLimited. Retry after 00:00:02.", exception.Message);
    }

    [Fact]
    public void Constructor_StandardShapes_HaveNoClass()
    {
        var inner = new InvalidOperationException("inner");

        Assert.Equal(string.Empty, new WorkloadRejectedException().WorkloadClass);
        Assert.Equal("custom", new WorkloadRejectedException("custom").Message);
        Assert.Same(inner, new WorkloadRejectedException("custom", inner).InnerException);
    }
}
