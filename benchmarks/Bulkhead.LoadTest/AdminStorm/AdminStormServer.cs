using System.Threading.RateLimiting;
using Bulkhead.LoadTest.Server;
using Microsoft.AspNetCore.RateLimiting;

namespace Bulkhead.LoadTest.AdminStorm;

/// <summary>
/// The admin storm's side of the server: an expensive admin endpoint (30 ms of CPU around a 10 ms await) and the
/// protections the scenario compares: none; ASP.NET Core's concurrency limiter (1 permit, a queue of 20, the rest 503);
/// Bulkhead, an admin class of one seat with a queue of 20 on a dedicated thread at idle priority (the rest 503 with
/// Retry-After).
/// </summary>
internal static class AdminStormServer
{
    public const double AdminCpuMs = 30;

    public const int QueueLimit = 20;

    public static bool IsAdminStorm(Mode mode) => mode is Mode.AdminNoIsolation or Mode.AdminAspNetLimiter or Mode.AdminBulkhead;

    public static void Configure(WebApplicationBuilder builder, Mode mode)
    {
        if (mode == Mode.AdminBulkhead)
        {
            builder.Services.AddWorkloadIsolation(o =>
            {
                o.AddInteractiveClass();
                o.AddClass("admin", c =>
                {
                    c.Priority = 1;
                    c.MaxConcurrency = 1;
                    c.QueueLimit = QueueLimit;
                    c.QueueTimeout = TimeSpan.FromMinutes(1);
                    c.Execution = new WorkloadExecutionOptions { DedicatedThreads = 1, CpuPriority = WorkloadCpuPriority.Idle };
                });
            });
        }
        else if (mode == Mode.AdminAspNetLimiter)
        {
            builder.Services.AddRateLimiter(o =>
            {
                o.RejectionStatusCode = StatusCodes.Status503ServiceUnavailable;
                o.AddConcurrencyLimiter("admin", c =>
                {
                    c.PermitLimit = 1;
                    c.QueueLimit = QueueLimit;
                    c.QueueProcessingOrder = QueueProcessingOrder.OldestFirst;
                });
            });
        }
    }

    public static void Map(WebApplication app, Mode mode)
    {
        if (mode == Mode.AdminBulkhead)
        {
            app.UseWorkloadIsolation();
        }
        else if (mode == Mode.AdminAspNetLimiter)
        {
            app.UseRateLimiter();
        }

        RouteHandlerBuilder admin = app.MapPost("/admin", async () =>
        {
            CpuWork.Run(AdminCpuMs / 2);
            await Task.Delay(10);
            CpuWork.Run(AdminCpuMs / 2);
            return "done";
        });
        if (mode == Mode.AdminBulkhead)
        {
            admin.WithWorkloadClass("admin");
        }
        else if (mode == Mode.AdminAspNetLimiter)
        {
            admin.RequireRateLimiting("admin");
        }
    }
}
