using Bulkhead.Admission.Internal;
using Bulkhead.Tests.Admission;

namespace Bulkhead.Tests.Telemetry;

public sealed class WorkloadSnapshotTests
{
    [Fact]
    public void Indexer_NameInOtherCase_FindsTheClass_UnknownNameThrows()
    {
        using WorkloadScheduler scheduler = SchedulerFactory.Create(4, o => o.AddClass("Reporting").AddClass("batch", c => c.Priority = 3));
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
