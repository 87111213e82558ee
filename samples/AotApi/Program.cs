using System.Text.Json.Serialization;
using Bulkhead;

WebApplicationBuilder builder = WebApplication.CreateSlimBuilder(args);
builder.Services.ConfigureHttpJsonOptions(o =>
{
    o.SerializerOptions.TypeInfoResolverChain.Insert(0, AppJson.Default);
    o.SerializerOptions.TypeInfoResolverChain.Add(WorkloadIsolationJson.TypeInfoResolver); // the snapshot's types
});

// Classes and limits from appsettings.json, reloaded when the file changes.
builder.Services.AddWorkloadIsolation(builder.Configuration.GetSection("WorkloadIsolation"));

WebApplication app = builder.Build();
app.UseWorkloadIsolation();

app.MapGet("/hello", () => "hello");
app.MapGet("/reports/{id:int}", async (int id, CancellationToken ct) =>
{
    await Task.Delay(TimeSpan.FromMilliseconds(200), ct);
    return new Report(id, 42);
}).WithWorkloadClass("reporting");
app.MapGet("/workload", (IWorkloadScheduler scheduler) => scheduler.GetSnapshot()).DisableWorkloadIsolation();

// The dashboard and the snapshot as JSON: source-generated, so they work under Native AOT too.
app.MapWorkloadIsolationDiagnostics();

app.Run();

internal sealed record Report(int Id, int Rows);

[JsonSerializable(typeof(Report))]
internal sealed partial class AppJson : JsonSerializerContext;
