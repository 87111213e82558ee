using Bulkhead.Admission.Internal;
using Microsoft.Extensions.Time.Testing;

namespace Bulkhead.Tests.Admission;

/// <summary>Builds schedulers on fake time for the admission tests.</summary>
internal static class SchedulerFactory
{
    /// <summary>A scheduler seen through its public API, for tests of behaviour.</summary>
    public static TestScheduler Create(int totalConcurrency, Action<WorkloadIsolationOptions> configure, FakeTimeProvider? time = null) =>
        TestScheduler.Create(Options(totalConcurrency, configure), time ?? new FakeTimeProvider());

    /// <summary>The scheduler itself, for the white-box tests of a mechanism inside it.</summary>
    public static WorkloadScheduler CreateWhiteBox(int totalConcurrency, Action<WorkloadIsolationOptions> configure, FakeTimeProvider? time = null) =>
        new(Options(totalConcurrency, configure), time ?? new FakeTimeProvider());

    private static WorkloadIsolationOptions Options(int totalConcurrency, Action<WorkloadIsolationOptions> configure)
    {
        var options = new WorkloadIsolationOptions { TotalConcurrency = totalConcurrency };
        configure(options);
        if (options.Classes.Count > 0 && !options.Classes.ContainsKey(options.DefaultClass))
        {
            options.DefaultClass = options.Classes.Keys.First();
        }

        return options;
    }
}
