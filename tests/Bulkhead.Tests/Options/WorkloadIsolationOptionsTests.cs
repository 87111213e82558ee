namespace Bulkhead.Tests.Options;

public sealed class WorkloadIsolationOptionsTests
{
    [Fact]
    public void Defaults_AreDocumentedValues()
    {
        var options = new WorkloadIsolationOptions();
        var classOptions = new WorkloadClassOptions();

        Assert.Equal((64, "default"), (options.TotalConcurrency, options.DefaultClass));
        Assert.Empty(options.Classes);
        Assert.Equal((0, 0, (int?)null, 100, TimeSpan.FromSeconds(30), WorkloadQueueOrder.Fifo),
            (classOptions.Priority, classOptions.ReservedConcurrency, classOptions.MaxConcurrency, classOptions.QueueLimit, classOptions.QueueTimeout, classOptions.QueueOrder));
    }

    [Fact]
    public void AddClass_ExistingNameInOtherCase_ConfiguresTheSameClass()
    {
        var options = new WorkloadIsolationOptions()
            .AddClass("Batch", c => c.Priority = 3)
            .AddClass("batch", c => c.MaxConcurrency = 2);

        WorkloadClassOptions batch = Assert.Single(options.Classes).Value;
        Assert.Equal((3, (int?)2), (batch.Priority, batch.MaxConcurrency));
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("  ")]
    public void AddClass_NoName_Throws(string? name)
    {
        Assert.ThrowsAny<ArgumentException>(() => new WorkloadIsolationOptions().AddClass(name!));
    }
}
