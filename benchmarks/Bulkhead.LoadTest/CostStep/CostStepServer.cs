using Bulkhead.LoadTest.Server;

namespace Bulkhead.LoadTest.CostStep;

/// <summary>
/// The cost-step scenario's side of the server: a report endpoint whose CPU cost the driver doubles halfway through a
/// run (<c>POST /cost/2</c>), and the Bulkhead configurations the scenario compares, all admission only (reports run on
/// the ThreadPool, as most apps' do): the reporting limit alone decides how much CPU reports take.
/// </summary>
internal static class CostStepServer
{
    /// <summary>The light report's CPU, in milliseconds, on either side of a 20 ms await; doubled by the step.</summary>
    public const double LightCpuMs = 5;

    /// <summary>The downstream variant: the light report takes this many of the downstream's 64 units for <see cref="HoldTime"/>; doubled by the step.</summary>
    public const int LightUnits = 20;

    public static readonly TimeSpan HoldTime = TimeSpan.FromMilliseconds(5);

    private static double s_factor = 1;

    /// <summary>Gets or sets a value indicating whether the reports' cost is in the shared downstream rather than the CPU.</summary>
    public static bool Downstream { get; set; }

    /// <summary>Gets the shared downstream (64 units, first in, first out) of the downstream variant.</summary>
    public static Downstream SharedDownstream { get; } = new(64);



    public static bool IsCostStep(Mode mode) => mode is Mode.StaticTunedLight or Mode.StaticTunedHeavy or Mode.AdaptiveAimd or Mode.AdaptiveGradient;

    public static void Configure(WebApplicationBuilder builder, Mode mode, int reportLimit, double seatObjectiveMs, double poolObjectiveMs, double headroom)
    {
        builder.Services.AddWorkloadIsolation(o =>
        {
            bool adaptive = mode is Mode.AdaptiveAimd or Mode.AdaptiveGradient;
            o.AddInteractiveClass(c =>
                c.Objective = adaptive && seatObjectiveMs > 0 ? new WorkloadObjectiveOptions { SeatTimeP99 = TimeSpan.FromMilliseconds(seatObjectiveMs) } : null);
            o.AddClass("reporting", c =>
            {
                c.Priority = 2;
                c.MaxConcurrency = adaptive ? 16 : reportLimit;
                c.QueueLimit = 1_000;
                c.QueueTimeout = TimeSpan.FromMinutes(1);
            });
            o.Adaptive.Enabled = adaptive;
            o.Adaptive.Algorithm = mode == Mode.AdaptiveGradient ? WorkloadAdaptiveAlgorithm.Gradient : WorkloadAdaptiveAlgorithm.Aimd;
            o.Adaptive.Window = TimeSpan.FromMilliseconds(250);
            o.Adaptive.MinSamples = 20;
            o.Adaptive.Headroom = headroom;
            o.Adaptive.ThreadPoolDelayP99 = adaptive && poolObjectiveMs > 0 ? TimeSpan.FromMilliseconds(poolObjectiveMs) : null;
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

            double cpu = LightCpuMs * factor;
            CpuWork.Run(cpu);
            await Task.Delay(20);
            CpuWork.Run(cpu);
            return "report";
        }).WithWorkloadClass("reporting");
        app.MapPost("/cost/{factor:double}", (double factor) => Volatile.Write(ref s_factor, factor)).DisableWorkloadIsolation();
        app.MapWorkloadIsolationDiagnostics();
    }
}
