using Bulkhead.Admission.Internal;
using Microsoft.Extensions.Time.Testing;

namespace Bulkhead.Tests.Admission;

/// <summary>Builds schedulers on fake time for the admission tests.</summary>
internal static class SchedulerFactory
{
    public static WorkloadScheduler Create(int totalConcurrency, Action<WorkloadIsolationOptions> configure, FakeTimeProvider? time = null)
    {
        var options = new WorkloadIsolationOptions { TotalConcurrency = totalConcurrency };
        configure(options);
        if (options.Classes.Count > 0 && !options.Classes.ContainsKey(options.DefaultClass))
        {
            options.DefaultClass = options.Classes.Keys.First();
        }

        return new WorkloadScheduler(options, time ?? new FakeTimeProvider());
    }
}
