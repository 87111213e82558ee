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

    private static double s_factor = 1;



    public static bool IsCostStep(Mode mode) => mode is Mode.StaticTunedLight or Mode.StaticTunedHeavy or Mode.AdaptiveAimd or Mode.AdaptiveGradient;

    public static void Configure(WebApplicationBuilder builder, Mode mode, int reportLimit, double seatObjectiveMs, double poolObjectiveMs)
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
            o.Adaptive.ThreadPoolDelayP99 = adaptive && poolObjectiveMs > 0 ? TimeSpan.FromMilliseconds(poolObjectiveMs) : null;
        });
    }

    public static void Map(WebApplication app)
    {
        app.MapGet("/cost-report", async () =>
        {
            double cpu = LightCpuMs * Volatile.Read(ref s_factor);
            CpuWork.Run(cpu);
            await Task.Delay(20);
            CpuWork.Run(cpu);
            return "report";
        }).WithWorkloadClass("reporting");
        app.MapPost("/cost/{factor:double}", (double factor) => Volatile.Write(ref s_factor, factor)).DisableWorkloadIsolation();
        app.MapWorkloadIsolationDiagnostics();
    }
}
