using Bulkhead.LoadTest.Server;
using Polly;

namespace Bulkhead.LoadTest.SharedDownstream;

/// <summary>
/// The shared-downstream scenario's two servers. The dependency (<see cref="Mode.DownstreamService"/>) is a service of
/// <see cref="Capacity"/> workers, first in first out: each call holds one for the time it asks. The front server's
/// interactive endpoint makes one 5 ms call to it; a report fans out <see cref="ReportCalls"/> calls of 20 ms at once.
/// Protections compared: none; Polly's concurrency limiter on the reports' HttpClient (<see cref="ReportSeats"/>
/// permits); Bulkhead.Http, the dependency's <see cref="Capacity"/> seats in two outgoing classes, the interactive one
/// reserving <see cref="Capacity"/> − <see cref="ReportSeats"/> of them.
/// </summary>
internal static class SharedDownstreamServer
{
    public const int Capacity = 8;

    public const int ReportSeats = 6;

    public const int ReportCalls = 4;

    public const int InteractiveCallMs = 5;

    public const int ReportCallMs = 20;

    private static readonly Downstream s_workers = new(Capacity);

    public static bool IsShared(Mode mode) => mode is Mode.SharedNoIsolation or Mode.SharedPollyLimiter or Mode.SharedBulkhead;

    public static void Configure(WebApplicationBuilder builder, Mode mode, Uri dependency)
    {
        IHttpClientBuilder interactive = builder.Services.AddHttpClient("interactive-calls", c => c.BaseAddress = dependency);
        IHttpClientBuilder reports = builder.Services.AddHttpClient("report-calls", c => c.BaseAddress = dependency);
        if (mode == Mode.SharedPollyLimiter)
        {
            reports.AddResilienceHandler("limiter", pipeline => pipeline.AddConcurrencyLimiter(ReportSeats, 10_000));
        }
        else if (mode == Mode.SharedBulkhead)
        {
            builder.Services.AddWorkloadIsolation(o =>
            {
                // Only outgoing calls take seats here: the front server's own requests are not isolated.
                o.TotalConcurrency = Capacity;
                o.DefaultClass = "calls";
                o.AddClass("calls", c => (c.ReservedConcurrency, c.QueueLimit) = (Capacity - ReportSeats, 1_000));
                o.AddClass("report-calls", c =>
                {
                    c.Priority = 2;
                    c.QueueLimit = 10_000;
                    c.QueueTimeout = TimeSpan.FromMinutes(1);
                });
            });
            interactive.AddWorkloadIsolation("calls");
            reports.AddWorkloadIsolation("report-calls");
        }
    }

    public static void Map(WebApplication app, Mode mode)
    {
        if (mode == Mode.DownstreamService)
        {
            DependencyCalls.MapWorkers(app, s_workers);
            return;
        }

        DependencyCalls.MapCallers(app, "interactive-calls", "report-calls", SharedDownstreamDriver.ReportPath, InteractiveCallMs, ReportCalls, ReportCallMs);
    }
}
