using Bulkhead.LoadTest.Server;

namespace Bulkhead.LoadTest.TwoServices;

/// <summary>
/// The two-service scenario's servers. The back service (<see cref="Mode.BackService"/>) runs Bulkhead in front of a
/// resource of <see cref="Capacity"/> workers: its seats are the workers, the interactive class reserves
/// <see cref="InteractiveReserved"/> of them and goes first, and it takes the class its trusted callers send. The front
/// service's interactive endpoint makes one 5 ms call to it; a report fans out <see cref="ReportCalls"/> calls of 20 ms
/// at once. The back service classifies every call it gets as interactive unless the call says otherwise: with
/// propagation the front service's client says which calls a report makes.
/// </summary>
internal static class TwoServicesServer
{
    public const int Capacity = 8;

    public const int InteractiveReserved = 2;

    public const int ReportCalls = 4;

    public const int InteractiveCallMs = 5;

    public const int ReportCallMs = 20;

    private static readonly Downstream s_workers = new(Capacity);

    public static bool IsFront(Mode mode) => mode is Mode.FrontUnpropagated or Mode.FrontPropagated;

    /// <summary>Both services: the same two classes, with propagation on (the back service trusts loopback).</summary>
    public static void Configure(WebApplicationBuilder builder, Mode mode, Uri? back)
    {
        builder.Services.AddWorkloadIsolation(o =>
        {
            o.TotalConcurrency = mode == Mode.BackService ? Capacity : 64;
            o.DefaultClass = "interactive";
            o.AddClass("interactive", c => (c.ReservedConcurrency, c.QueueLimit) = (InteractiveReserved, 1_000));
            o.AddClass("reporting", c =>
            {
                c.Priority = 2;
                c.QueueLimit = 10_000;
                c.QueueTimeout = TimeSpan.FromMinutes(1);
            });
        }).ConfigureHttp(h =>
        {
            h.Propagation.Enabled = true;
            h.Propagation.TrustedNetworks.Add("127.0.0.0/8");
        });

        if (back is not null)
        {
            IHttpClientBuilder client = builder.Services.AddHttpClient("back", c => c.BaseAddress = back);
            if (mode == Mode.FrontPropagated)
            {
                client.AddWorkloadPropagation();
            }
        }
    }

    public static void Map(WebApplication app, Mode mode)
    {
        if (mode == Mode.BackService)
        {
            DependencyCalls.MapWorkers(app, s_workers);
            return;
        }

        DependencyCalls.MapCallers(app, "back", "back", TwoServicesDriver.ReportPath, InteractiveCallMs, ReportCalls, ReportCallMs).WithWorkloadClass("reporting");
    }
}
