using Bulkhead.LoadTest.Server;

namespace Bulkhead.LoadTest.CostStep;

/// <summary>
/// The cost-step scenario's side of the server: a report endpoint whose CPU cost the driver doubles halfway through a
/// run (<c>POST /cost/2</c>), and the Bulkhead configurations the scenario compares: admission only (reports run on
/// the ThreadPool, as most apps' do, and the reporting limit alone decides how much CPU reports take), or, in the
/// threads variant, reports on the reporting class's own idle-priority threads.
/// </summary>
internal static class CostStepServer
{

    /// <summary>The downstream variant: the light report takes this many of the downstream's 64 units for <see cref="HoldTime"/>; doubled by the step.</summary>
    public const int LightUnits = 20;

    public static readonly TimeSpan HoldTime = TimeSpan.FromMilliseconds(5);

    private static double s_factor = 1;

    /// <summary>Gets a value indicating whether the reports' cost is in the shared downstream rather than the CPU.</summary>
    public static bool Downstream { get; private set; }

    /// <summary>Gets the shared downstream (64 units, first in, first out) of the downstream variant.</summary>
    public static Downstream SharedDownstream { get; } = new(64);

    /// <summary>Gets the await between a report's two halves of CPU, in milliseconds.</summary>
    public static int AwaitMs { get; private set; } = 20;

    /// <summary>Gets the light report's CPU, in milliseconds, half on either side of the await; doubled by the step.</summary>
    public static double CpuMs { get; private set; } = 10;

    public static bool IsCostStep(Mode mode) => mode is Mode.StaticTunedLight or Mode.StaticTunedHeavy or Mode.AdaptiveAimd or Mode.AdaptiveGradient;

    public static void Configure(WebApplicationBuilder builder, Mode mode, CostStepSettings settings)
    {
        Downstream = settings.Downstream;
        AwaitMs = settings.AwaitMs;
        CpuMs = settings.CpuMs;
        builder.Services.AddWorkloadIsolation(o =>
        {
            bool adaptive = mode is Mode.AdaptiveAimd or Mode.AdaptiveGradient;
            o.AddInteractiveClass(c =>
                c.Objective = adaptive && settings.SeatObjectiveMs > 0 ? new WorkloadObjectiveOptions { SeatTimeP99 = TimeSpan.FromMilliseconds(settings.SeatObjectiveMs) } : null);
            o.AddClass("reporting", c =>
            {
                c.Priority = 2;
                c.MaxConcurrency = adaptive ? 16 : settings.ReportLimit;
                c.QueueLimit = 1_000;
                c.QueueTimeout = TimeSpan.FromMinutes(1);
                c.Execution = settings.Threads > 0 ? new WorkloadExecutionOptions { DedicatedThreads = settings.Threads, CpuPriority = WorkloadCpuPriority.Idle } : null;
            });
            o.Adaptive.Enabled = adaptive;
            o.Adaptive.Algorithm = mode == Mode.AdaptiveGradient ? WorkloadAdaptiveAlgorithm.Gradient : WorkloadAdaptiveAlgorithm.Aimd;
            o.Adaptive.Window = TimeSpan.FromMilliseconds(250);
            o.Adaptive.MinSamples = 20;
            o.Adaptive.Headroom = settings.Headroom;
            o.Adaptive.ThreadPoolDelayP99 = adaptive && settings.PoolObjectiveMs > 0 ? TimeSpan.FromMilliseconds(settings.PoolObjectiveMs) : null;
        });
    }

    public static void Map(WebApplication app)
    {
        app.MapGet("/cost-report", async () =>
        {
            double factor = Volatile.Read(ref s_factor);
            if (Downstream)
            {
                CpuWork.Run(0.2);
                await SharedDownstream.UseAsync((int)(LightUnits * factor), HoldTime);
                return "report";
            }

            double cpu = CpuMs / 2 * factor;
            CpuWork.Run(cpu);
            await Task.Delay(AwaitMs);
            CpuWork.Run(cpu);
            return "report";
        }).WithWorkloadClass("reporting");
        app.MapPost("/cost/{factor:double}", (double factor) => Volatile.Write(ref s_factor, factor)).DisableWorkloadIsolation();
        app.MapWorkloadIsolationDiagnostics();
    }
}

/// <summary>How the driver sets up a cost-step server: the mode's limits and objectives, and the variant.</summary>
/// <param name="ReportLimit">The static reporting limit (static modes).</param>
/// <param name="SeatObjectiveMs">The interactive seat-time objective, p99, in ms; 0 for none.</param>
/// <param name="PoolObjectiveMs">The ThreadPool delay objective, p99, in ms; 0 for none.</param>
/// <param name="Headroom">The adaptive controller's headroom.</param>
/// <param name="Downstream">Whether the reports' cost is in a shared downstream rather than the CPU.</param>
/// <param name="Threads">How many idle-priority threads of its own the reporting class runs reports on; 0 for the ThreadPool.</param>
/// <param name="AwaitMs">The await between a report's two halves of CPU, in ms.</param>
/// <param name="CpuMs">The light report's CPU, in ms, half on either side of the await.</param>
internal sealed record CostStepSettings(int ReportLimit, double SeatObjectiveMs, double PoolObjectiveMs, double Headroom, bool Downstream, int Threads, int AwaitMs, double CpuMs);
