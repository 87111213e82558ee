using System.Threading.RateLimiting;
using Bulkhead.LoadTest.AdminStorm;
using Bulkhead.LoadTest.Consumer;
using Bulkhead.LoadTest.CostStep;
using Bulkhead.LoadTest.HotTenant;
using Bulkhead.LoadTest.Pressure;
using Bulkhead.LoadTest.RejectionStorm;
using Bulkhead.LoadTest.SharedDownstream;
using Bulkhead.LoadTest.TwoServices;
using Bulkhead.LoadTest.Starvation;
using Bulkhead.LoadTest.Weighted;
using Microsoft.AspNetCore.RateLimiting;

namespace Bulkhead.LoadTest.Server;

/// <summary>
/// The server under test: an interactive endpoint (0.5 ms of CPU, then a 2 ms await) and a report endpoint (40 ms of
/// CPU in two halves around an await), protected as the mode says. Prints "listening URL" once ready.
/// </summary>
internal static class LoadTestServer
{
    public static async Task<int> RunAsync(Mode mode, double iterationsPerMillisecond, CostStepSettings costStep, Uri? dependency, CancellationToken cancellationToken)
    {
        // Every server does the same amount of work per request: the driver's calibration, not its own.
        CpuWork.IterationsPerMillisecond = iterationsPerMillisecond;
        WebApplicationBuilder builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");

        bool bulkhead = mode is Mode.BulkheadAdmissionOnly or Mode.BulkheadLowest or Mode.BulkheadIdle;
        if (bulkhead)
        {
            // The configuration docs/jobs.md recommends for CPU-heavy reports: their own class, on dedicated
            // low-priority threads, one per core.
            builder.Services.AddWorkloadIsolation(o =>
            {
                o.AddInteractiveClass();
                o.AddClass("reporting", c =>
                {
                    c.Priority = 2;
                    // Admission only: as many reports at once as the dedicated modes have threads, on the ThreadPool.
                    c.MaxConcurrency = mode == Mode.BulkheadAdmissionOnly ? Environment.ProcessorCount : 64;
                    c.QueueLimit = 1_000;
                    c.QueueTimeout = TimeSpan.FromMinutes(1);
                    c.Execution = mode == Mode.BulkheadAdmissionOnly ? null : new WorkloadExecutionOptions
                    {
                        DedicatedThreads = Environment.ProcessorCount,
                        CpuPriority = mode == Mode.BulkheadIdle ? WorkloadCpuPriority.Idle : WorkloadCpuPriority.Lowest,
                    };
                });

                // Called only by the rejection storm: refuses all but one call a second.
                RejectionStormServer.Configure(o);
            }).ConfigureHttp(RejectionStormServer.Configure);
        }

        if (CostStepServer.IsCostStep(mode))
        {
            CostStepServer.Configure(builder, mode, costStep);
        }

        if (AdminStormServer.IsAdminStorm(mode))
        {
            AdminStormServer.Configure(builder, mode);
        }

        if (HotTenantServer.IsHotTenant(mode))
        {
            HotTenantServer.Configure(builder, mode);
        }

        if (StarvationServer.IsStarvation(mode))
        {
            StarvationServer.Configure(builder, mode);
        }

        if (PressureServer.IsPressure(mode))
        {
            PressureServer.Configure(builder, mode);
        }

        if (WeightedServer.IsWeighted(mode))
        {
            WeightedServer.Configure(builder, mode);
        }

        if (TwoServicesServer.IsFront(mode) || mode == Mode.BackService)
        {
            TwoServicesServer.Configure(builder, mode, TwoServicesServer.IsFront(mode) ? dependency ?? throw new InvalidOperationException("--dependency is required for the front service.") : null);
        }

        if (ConsumerServer.IsConsumer(mode))
        {
            ConsumerServer.Configure(builder, mode, dependency ?? throw new InvalidOperationException("--dependency (the broker's address) is required for the consumer modes."));
        }

        if (SharedDownstreamServer.IsShared(mode))
        {
            SharedDownstreamServer.Configure(builder, mode, dependency ?? throw new InvalidOperationException("--dependency is required for the shared-downstream modes."));
        }

        int permits = mode == Mode.AspNetLimiter1 ? 1 : 2;
        bool limiter = mode is Mode.AspNetLimiter1 or Mode.AspNetLimiter2;
        if (limiter)
        {
            builder.Services.AddRateLimiter(o =>
            {
                o.AddConcurrencyLimiter("reports", c =>
                {
                    c.PermitLimit = permits;
                    c.QueueLimit = 10_000;
                    c.QueueProcessingOrder = QueueProcessingOrder.OldestFirst;
                });
                RejectionStormServer.Configure(o);
            });
        }

        WebApplication app = builder.Build();
        if (bulkhead || CostStepServer.IsCostStep(mode) || TwoServicesServer.IsFront(mode) || mode == Mode.BackService)
        {
            app.UseWorkloadIsolation();
        }

        if (CostStepServer.IsCostStep(mode))
        {
            CostStepServer.Map(app);
        }

        if (AdminStormServer.IsAdminStorm(mode))
        {
            AdminStormServer.Map(app, mode);
        }

        if (HotTenantServer.IsHotTenant(mode))
        {
            HotTenantServer.Map(app, mode);
        }

        if (StarvationServer.IsStarvation(mode))
        {
            StarvationServer.Map(app, mode);
        }

        if (PressureServer.IsPressure(mode))
        {
            PressureServer.Map(app, mode);
        }

        if (ConsumerServer.IsConsumer(mode))
        {
            ConsumerServer.Map(app, mode);
        }

        if (limiter)
        {
            app.UseRateLimiter();
        }

        if (WeightedServer.IsWeighted(mode))
        {
            // Its own interactive endpoint: interactive calls use the shared downstream too.
            WeightedServer.Map(app, mode);
        }
        else if (TwoServicesServer.IsFront(mode) || mode == Mode.BackService)
        {
            // The front service's interactive endpoint and report, which call the back service; or the back service.
            TwoServicesServer.Map(app, mode);
        }
        else if (SharedDownstreamServer.IsShared(mode) || mode == Mode.DownstreamService)
        {
            // Its own interactive endpoint, which calls the dependency; or the dependency itself.
            SharedDownstreamServer.Map(app, mode);
        }
        else if (CostStepServer.IsCostStep(mode) && costStep.Downstream)
        {
            // So do the cost step's with a downstream.
            app.MapGet("/interactive", async () =>
            {
                CpuWork.Run(0.2);
                await CostStepServer.SharedDownstream.UseAsync(1, CostStepServer.HoldTime);
                return "ok";
            });
        }
        else
        {
            app.MapGet("/interactive", async () =>
            {
                CpuWork.Run(0.5);
                await Task.Delay(2);
                return "ok";
            });
        }

        if (bulkhead || limiter)
        {
            RejectionStormServer.Map(app, bulkhead);
        }

        RouteHandlerBuilder report = app.MapGet("/report", async () =>
        {
            CpuWork.Run(20);
            await Task.Yield();
            CpuWork.Run(20);
            return "report";
        });
        if (bulkhead)
        {
            report.WithWorkloadClass("reporting");
        }

        if (limiter)
        {
            report.RequireRateLimiting("reports");
        }

        await app.StartAsync(cancellationToken);
        Console.WriteLine($"listening {app.Urls.First()}");
        await app.WaitForShutdownAsync(cancellationToken);
        return 0;
    }
}
