using System.Runtime.InteropServices;

namespace Bulkhead.Execution.Internal;

/// <summary>
/// Lowers the current thread's operating-system priority. On Linux <see cref="Thread.Priority"/> does nothing, but a
/// thread may lower its own nice value (<c>setpriority(PRIO_PROCESS, tid, nice)</c>) or move itself to
/// <c>SCHED_IDLE</c> without privileges.
/// </summary>
internal static partial class ThreadPriorities
{
    private const int PrioProcess = 0;
    private const int SchedIdle = 5;

    /// <summary>Applies a priority to the calling thread; returns false where the platform refused it.</summary>
    public static bool ApplyToCurrentThread(WorkloadCpuPriority priority)
    {
        if (priority == WorkloadCpuPriority.Normal)
        {
            return true;
        }

        if (OperatingSystem.IsLinux())
        {
            int tid = GetTid();
            bool lowered = SetPriority(PrioProcess, tid, priority == WorkloadCpuPriority.BelowNormal ? 5 : 19) == 0;
            if (priority == WorkloadCpuPriority.Idle)
            {
                var parameter = new SchedParam { Priority = 0 };
                lowered &= SchedSetScheduler(tid, SchedIdle, ref parameter) == 0;
            }

            return lowered;
        }

        // Windows honours thread priorities; elsewhere this is best effort.
        Thread.CurrentThread.Priority = priority == WorkloadCpuPriority.BelowNormal ? ThreadPriority.BelowNormal : ThreadPriority.Lowest;
        return OperatingSystem.IsWindows();
    }

    [LibraryImport("libc", EntryPoint = "gettid")]
    private static partial int GetTid();

    [LibraryImport("libc", EntryPoint = "setpriority", SetLastError = true)]
    private static partial int SetPriority(int which, int who, int priority);

    [LibraryImport("libc", EntryPoint = "sched_setscheduler", SetLastError = true)]
    private static partial int SchedSetScheduler(int pid, int policy, ref SchedParam parameter);

    [StructLayout(LayoutKind.Sequential)]
    private struct SchedParam
    {
        public int Priority;
    }
}
