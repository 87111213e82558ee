using System.Threading.RateLimiting;
using Bulkhead.AspNetCore;
using Bulkhead.LoadTest.Server;

namespace Bulkhead.LoadTest.HotTenant;

/// <summary>
/// The hot tenant's side of the server: a tenant report endpoint (30 ms of CPU around a 5 ms await) whose tenant is the
/// <c>X-Tenant</c> header, and the protections the scenario compares: none; ASP.NET Core's partitioned concurrency
/// limiter (one report per tenant at once, a queue of 1,000 per tenant); Bulkhead (a reporting class of two seats per
/// core, one per tenant, its queue served round robin across tenants), with or without a backlogged tenant's reports at
/// idle priority.
/// </summary>
internal static class HotTenantServer
{
    public const double ReportCpuMs = 30;

    public const string TenantHeader = "X-Tenant";

    public static bool IsHotTenant(Mode mode) => mode is Mode.TenantNoIsolation or Mode.TenantAspNetPartitioned or Mode.TenantBulkhead or Mode.TenantBulkheadBacklogIdle;

    private static bool IsBulkhead(Mode mode) => mode is Mode.TenantBulkhead or Mode.TenantBulkheadBacklogIdle;

    public static void Configure(WebApplicationBuilder builder, Mode mode)
    {
        if (IsBulkhead(mode))
        {
            builder.Services.AddWorkloadIsolation(o =>
            {
                o.AddInteractiveClass();
                o.AddClass("reporting", c =>
                {
                    c.Priority = 2;
                    c.MaxConcurrency = 2 * Environment.ProcessorCount;
                    c.MaxConcurrencyPerPartition = 1;
                    c.QueueLimit = 10_000;
                    c.QueueTimeout = TimeSpan.FromMinutes(1);
                    if (mode == Mode.TenantBulkheadBacklogIdle)
                    {
                        // A tenant with more reports waiting behind the one it starts is sending more than its share:
                        // that report takes only the CPU the other tenants leave.
                        c.Execution = new WorkloadExecutionOptions { BackloggedPartitionCpuPriority = WorkloadCpuPriority.Idle };
                    }
                });
            });
            builder.Services.Configure<WorkloadIsolationHttpOptions>(h =>
            {
                h.TrustedHeaders.Add(TenantHeader);
                h.PartitionHeader = TenantHeader;
            });
        }
        else if (mode == Mode.TenantAspNetPartitioned)
        {
            builder.Services.AddRateLimiter(o =>
            {
                o.RejectionStatusCode = StatusCodes.Status503ServiceUnavailable;
                o.AddPolicy("tenant", context => RateLimitPartition.GetConcurrencyLimiter(
                    context.Request.Headers[TenantHeader].ToString(),
                    _ => new ConcurrencyLimiterOptions { PermitLimit = 1, QueueLimit = 1_000, QueueProcessingOrder = QueueProcessingOrder.OldestFirst }));
            });
        }
    }

    public static void Map(WebApplication app, Mode mode)
    {
        if (IsBulkhead(mode))
        {
            app.UseWorkloadIsolation();
        }
        else if (mode == Mode.TenantAspNetPartitioned)
        {
            app.UseRateLimiter();
        }

        RouteHandlerBuilder report = app.MapGet("/tenant-report", async () =>
        {
            CpuWork.Run(ReportCpuMs / 2);
            await Task.Delay(5);
            CpuWork.Run(ReportCpuMs / 2);
            return "report";
        });
        if (IsBulkhead(mode))
        {
            report.WithWorkloadClass("reporting");
        }
        else if (mode == Mode.TenantAspNetPartitioned)
        {
            report.RequireRateLimiting("tenant");
        }
    }
}
