using System.Threading.RateLimiting;
using Bulkhead.LoadTest.Server;
using Microsoft.AspNetCore.RateLimiting;

namespace Bulkhead.LoadTest.Starvation;

/// <summary>
/// The ThreadPool starvation's side of the server: a legacy report endpoint that blocks its thread on asynchronous I/O
/// (sync over async: 50 ms) around 2 ms of CPU, and the protections the scenario compares: none; ASP.NET Core's
/// concurrency limiter (1 or 2 permits); Bulkhead, the reporting class on four dedicated threads, where its blocking
/// stays.
/// </summary>
internal static class StarvationServer
{
    public const int BlockMs = 50;

    public const int DedicatedThreads = 4;

    public static bool IsStarvation(Mode mode) => mode is Mode.BlockingNoIsolation or Mode.BlockingAspNetLimiter1 or Mode.BlockingAspNetLimiter2 or Mode.BlockingBulkhead;

    public static void Configure(WebApplicationBuilder builder, Mode mode)
    {
        if (mode == Mode.BlockingBulkhead)
        {
            builder.Services.AddWorkloadIsolation(o =>
            {
                o.AddInteractiveClass();
                o.AddClass("reporting", c =>
                {
                    c.Priority = 2;
                    c.MaxConcurrency = DedicatedThreads;
                    c.QueueLimit = 1_000;
                    c.QueueTimeout = TimeSpan.FromMinutes(1);
                    c.Execution = new WorkloadExecutionOptions { DedicatedThreads = DedicatedThreads };
                });
            });
        }
        else if (mode is Mode.BlockingAspNetLimiter1 or Mode.BlockingAspNetLimiter2)
        {
            builder.Services.AddRateLimiter(o => o.AddConcurrencyLimiter("blocking", c =>
            {
                c.PermitLimit = mode == Mode.BlockingAspNetLimiter1 ? 1 : 2;
                c.QueueLimit = 10_000;
                c.QueueProcessingOrder = QueueProcessingOrder.OldestFirst;
            }));
        }
    }

    public static void Map(WebApplication app, Mode mode)
    {
        if (mode == Mode.BlockingBulkhead)
        {
            app.UseWorkloadIsolation();
        }
        else if (mode is Mode.BlockingAspNetLimiter1 or Mode.BlockingAspNetLimiter2)
        {
            app.UseRateLimiter();
        }

        RouteHandlerBuilder report = app.MapGet("/blocking-report", () =>
        {
            CpuWork.Run(1);

            // Legacy code: waits for I/O by blocking its thread.
#pragma warning disable VSTHRD002, CA1849
            Task.Delay(BlockMs).Wait();
#pragma warning restore VSTHRD002, CA1849
            CpuWork.Run(1);
            return "report";
        });
        if (mode == Mode.BlockingBulkhead)
        {
            report.WithWorkloadClass("reporting");
        }
        else if (mode is Mode.BlockingAspNetLimiter1 or Mode.BlockingAspNetLimiter2)
        {
            report.RequireRateLimiting("blocking");
        }
    }
}
