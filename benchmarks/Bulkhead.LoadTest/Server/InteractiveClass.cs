namespace Bulkhead.LoadTest.Server;

/// <summary>What every Bulkhead server of the load test shares: 256 seats and the interactive class, the default, with half of them reserved.</summary>
internal static class InteractiveClass
{
    public static WorkloadIsolationOptions AddInteractiveClass(this WorkloadIsolationOptions options, Action<WorkloadClassOptions>? configure = null)
    {
        options.TotalConcurrency = 256;
        options.DefaultClass = "interactive";
        return options.AddClass("interactive", c =>
        {
            c.ReservedConcurrency = 128;
            c.QueueLimit = 1_000;
            configure?.Invoke(c);
        });
    }
}
