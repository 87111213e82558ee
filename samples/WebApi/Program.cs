using Bulkhead;
using OpenTelemetry.Metrics;

WebApplicationBuilder builder = WebApplication.CreateBuilder(args);

// Classes, limits and rules come from appsettings.json ("WorkloadIsolation").
builder.Services.AddWorkloadIsolation(builder.Configuration.GetSection("WorkloadIsolation"));
builder.Services.AddControllers();

// Degraded when the interactive class queues past a second or rejects (docs/aspnetcore.md).
builder.Services.AddHealthChecks().AddWorkloadIsolation();

// Bulkhead's metrics next to ASP.NET Core's own, printed to the console every "Telemetry:ConsoleIntervalSeconds"
// and scraped by Prometheus at /metrics (docs/metrics.md lists every instrument and the queries that use them).
builder.Services.AddOpenTelemetry().WithMetrics(metrics => metrics
    .AddMeter(WorkloadIsolationTelemetry.MeterName)
    .AddMeter("Microsoft.AspNetCore.Hosting", "Microsoft.AspNetCore.Server.Kestrel")
    .AddConsoleExporter((_, reader) => reader.PeriodicExportingMetricReaderOptions.ExportIntervalMilliseconds =
        builder.Configuration.GetValue("Telemetry:ConsoleIntervalSeconds", 30) * 1000)
    .AddPrometheusExporter());

WebApplication app = builder.Build();

app.UseWorkloadIsolation();

// Operations: never queued or rejected. In production, put these behind authorization or an internal port.
app.MapPrometheusScrapingEndpoint().DisableWorkloadIsolation();
app.MapWorkloadIsolationDiagnostics("/_bulkhead");
app.MapHealthChecks("/healthz/isolation").DisableWorkloadIsolation();

// Interactive: the default class.
app.MapGet("/hello", () => "hello");

// Reporting: classified by the "/reports" rule in appsettings.json.
app.MapGet("/reports/{id:int}", async (int id, CancellationToken ct) =>
{
    await Task.Delay(TimeSpan.FromMilliseconds(200), ct);
    return new { id, rows = 42 };
});

// Reporting, chosen on the endpoint itself.
app.MapGet("/exports/{id:int}", (int id) => new { id, status = "queued" }).WithWorkloadClass("reporting");

// Never queued or rejected: probes must answer even when every class is full.
app.MapGet("/healthz", () => "healthy").DisableWorkloadIsolation();

// What each class is doing now.
app.MapGet("/workload", (IWorkloadScheduler scheduler) => scheduler.GetSnapshot().Classes).DisableWorkloadIsolation();

// Admin: [WorkloadClass("admin")] on the controller.
app.MapControllers();

app.Run();
