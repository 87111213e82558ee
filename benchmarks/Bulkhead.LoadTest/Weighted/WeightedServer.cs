using Bulkhead.LoadTest.Server;

namespace Bulkhead.LoadTest.Weighted;

/// <summary>
/// The weighted-seats scenario's side of the server. Both endpoints use one shared downstream of 64 units (a database
/// with 64 workers): an interactive call takes 1 unit for 5 ms, a report 40 units for 5 ms, so a report costs 40 times
/// what an interactive call does. Bulkhead has 64 seats, as many as the downstream has units; the modes differ only in
/// how the reporting class counts its work.
/// </summary>
internal static class WeightedServer
{
    public const int Capacity = 64;

    public const int ReportUnits = 40;

    public static readonly TimeSpan HoldTime = TimeSpan.FromMilliseconds(5);

    private static readonly Downstream s_downstream = new(Capacity);

    public static bool IsWeighted(Mode mode) => mode is Mode.WeightedNoIsolation or Mode.WeightedOneSeatEach or Mode.WeightedHandTuned or Mode.WeightedSeats;

    public static void Configure(WebApplicationBuilder builder, Mode mode)
    {
        if (mode == Mode.WeightedNoIsolation)
        {
            return;
        }

        builder.Services.AddWorkloadIsolation(o =>
        {
            o.TotalConcurrency = Capacity;
            o.DefaultClass = "interactive";
            o.AddClass("interactive", c => (c.ReservedConcurrency, c.QueueLimit) = (8, 1_000));
            o.AddClass("reporting", c =>
            {
                c.Priority = 2;

                // Hand-tuned: the one number that keeps reports from flooding the downstream, found by trying.
                c.MaxConcurrency = mode == Mode.WeightedHandTuned ? 1 : null;
                c.QueueLimit = 1_000;
                c.QueueTimeout = TimeSpan.FromMinutes(1);
            });
        });
    }

    public static void Map(WebApplication app, Mode mode)
    {
        if (mode != Mode.WeightedNoIsolation)
        {
            app.UseWorkloadIsolation();
        }

        app.MapGet("/interactive", async () =>
        {
            CpuWork.Run(0.2);
            await s_downstream.UseAsync(1, HoldTime);
            return "ok";
        });
        RouteHandlerBuilder report = app.MapGet("/weighted-report", async () =>
        {
            CpuWork.Run(0.2);
            await s_downstream.UseAsync(ReportUnits, HoldTime);
            return "report";
        });
        if (mode != Mode.WeightedNoIsolation)
        {
            // Weighted: a report takes as many seats as the downstream units it uses; otherwise one seat, as any request.
            report.WithWorkloadClass("reporting", weight: mode == Mode.WeightedSeats ? ReportUnits : 1);
        }
    }
}
