using Bulkhead;

WebApplicationBuilder builder = WebApplication.CreateBuilder(args);

// Classes, limits and rules come from appsettings.json ("WorkloadIsolation").
builder.Services.AddWorkloadIsolation(builder.Configuration.GetSection("WorkloadIsolation"));
builder.Services.AddControllers();

WebApplication app = builder.Build();

app.UseWorkloadIsolation();

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
