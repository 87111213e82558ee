using Bulkhead.LoadTest.Server;

namespace Bulkhead.LoadTest.Pressure;

/// <summary>
/// The pressure scenario's side of the server. Memory: a report endpoint that holds <see cref="ReportMiB"/> MiB of
/// large arrays for <see cref="HoldMs"/> ms, in a process whose GC heap may hold <see cref="HeapLimitMiB"/> MiB (what a
/// container's memory limit sets); unprotected, with Bulkhead's limits only, and with a memory Shed rule. CPU: a report
/// endpoint of 40 ms of CPU on the ThreadPool; unprotected, under a limit tuned by hand, and under a CPU Shed rule.
/// </summary>
internal static class PressureServer
{
    public const int ReportMiB = 16;

    public const int HoldMs = 250;

    public const int HeapLimitMiB = 256;

    /// <summary>The memory load at which the reporting class is shed.</summary>
    public const double MemoryAbove = 0.6;

    /// <summary>The CPU utilization at which the reporting class is shed.</summary>
    public const double CpuAbove = 0.75;

    /// <summary>How far below its threshold the CPU must fall before the reporting class grows back.</summary>
    public const double CpuHysteresis = 0.25;

    /// <summary>How often the pressure is read in the Shed modes.</summary>
    public static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(50);

    /// <summary>The reporting class's limit in the modes that do not shed by memory: sized for time (reports mostly wait), not memory.</summary>
    public const int ReportLimit = 32;

    /// <summary>The limit tuned by hand for the heap limit: half of it held by reports at once (8 × 16 MiB of 256 MiB).</summary>
    public const int HandTunedMemoryLimit = 8;

    /// <summary>
    /// The most reports the heap limit can hold at once, with room for the rest of the process: 12 × 16 MiB of 256 MiB.
    /// Arithmetic, not tuning: no report can fail for memory, even before the first reading.
    /// </summary>
    public const int HeapSizedLimit = 12;

    /// <summary>The hand-tuned limit of CPU-heavy reports on the ThreadPool on a 2-core machine (one at a time: docs/adaptive.md).</summary>
    public const int HandTunedCpuLimit = 1;

    public const double ReportCpuMs = 40;

    public static bool IsPressure(Mode mode) => IsMemory(mode) || mode is Mode.CpuNoIsolation or Mode.CpuHandTuned or Mode.CpuShed;

    public static bool IsMemory(Mode mode) => mode is Mode.MemoryNoIsolation or Mode.MemoryBulkhead or Mode.MemoryHandTuned or Mode.MemoryBulkheadShed or Mode.MemoryHeapSizedShed;

    /// <summary>The environment the server runs in: the memory modes' GC heap hard limit, as a container's limit would set.</summary>
    public static IReadOnlyDictionary<string, string>? Environment(Mode mode) => IsMemory(mode)
        ? new Dictionary<string, string> { ["DOTNET_GCHeapHardLimit"] = $"0x{(long)HeapLimitMiB << 20:X}" }
        : null;

    public static void Configure(WebApplicationBuilder builder, Mode mode)
    {
        if (mode is Mode.MemoryNoIsolation or Mode.CpuNoIsolation)
        {
            return;
        }

        builder.Services.AddWorkloadIsolation(o =>
        {
            o.AddInteractiveClass();
            o.Pressure.Interval = Interval;
            if (mode == Mode.CpuShed)
            {
                // One CPU-heavy report is about half of 2 cores and two are all of them: a class admitted again grows
                // back only below a quarter under the threshold, where one report keeps the CPU.
                o.Pressure.Hysteresis = CpuHysteresis;
            }

            o.AddClass("reporting", c =>
            {
                c.Priority = 2;
                c.MaxConcurrency = mode switch
                {
                    Mode.CpuHandTuned => HandTunedCpuLimit,
                    Mode.MemoryHandTuned => HandTunedMemoryLimit,
                    Mode.MemoryHeapSizedShed => HeapSizedLimit,
                    _ => ReportLimit,
                };
                c.QueueLimit = 1_000;
                c.QueueTimeout = TimeSpan.FromSeconds(10);
                c.Shed = mode switch
                {
                    Mode.MemoryBulkheadShed or Mode.MemoryHeapSizedShed => new WorkloadShedOptions { MemoryAbove = MemoryAbove },
                    Mode.CpuShed => new WorkloadShedOptions { CpuAbove = CpuAbove },
                    _ => null,
                };
            });
        });
    }

    public static void Map(WebApplication app, Mode mode)
    {
        if (mode is not (Mode.MemoryNoIsolation or Mode.CpuNoIsolation))
        {
            app.UseWorkloadIsolation();
        }

        RouteHandlerBuilder memory = app.MapGet("/memory-report", async () =>
        {
            // A report that builds its result in memory: large arrays, every page touched, held while it waits.
            byte[] rows = new byte[ReportMiB << 20];
            for (int i = 0; i < rows.Length; i += 4096)
            {
                rows[i] = (byte)i;
            }

            await Task.Delay(HoldMs);
            return rows[^4096];
        });
        RouteHandlerBuilder cpu = app.MapGet("/cpu-report", async () =>
        {
            CpuWork.Run(ReportCpuMs / 2);
            await Task.Yield();
            CpuWork.Run(ReportCpuMs / 2);
            return "report";
        });
        if (mode is not (Mode.MemoryNoIsolation or Mode.CpuNoIsolation))
        {
            memory.WithWorkloadClass("reporting");
            cpu.WithWorkloadClass("reporting");
        }
    }
}
