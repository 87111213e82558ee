using Microsoft.Extensions.Options;

namespace Bulkhead.Execution.Internal;

/// <summary>
/// Fills in what a class's <see cref="WorkloadClassOptions.Kind"/> implies and the class left unset, after the options
/// are configured and before they are validated, at start-up and at every reload; a setting the class gives wins.
/// </summary>
internal sealed class WorkloadKindDefaults : IPostConfigureOptions<WorkloadIsolationOptions>
{
    public void PostConfigure(string? name, WorkloadIsolationOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        foreach (WorkloadClassOptions c in options.Classes.Values)
        {
            if (c.Kind == WorkloadKind.CpuBound)
            {
                // One thread per processor at Lowest: more threads than processors gain CPU-heavy work nothing and make
                // the normal-priority threads wait longer (start-up hint 43), and more units than threads only queue
                // behind them.
                // Each of these the class leaves unset takes the kind's value: a class that sets only a timeout, or
                // only a priority, still gets the kind's threads.
                c.Execution ??= new WorkloadExecutionOptions();
                if (c.Execution.DedicatedThreads == 0)
                {
                    c.Execution.DedicatedThreads = Environment.ProcessorCount;
                }

                c.Execution.CpuPriority ??= WorkloadCpuPriority.Lowest;

                c.MaxConcurrency ??= c.Execution.DedicatedThreads > 0 ? c.Execution.DedicatedThreads : null;
            }
        }
    }
}
