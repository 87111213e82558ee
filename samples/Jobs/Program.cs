// Background work under workload classes: a hosted service wrapped by registration alone, and enqueue-and-forget jobs.
using Bulkhead;
using Jobs;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

HostApplicationBuilder builder = Host.CreateApplicationBuilder(args);
builder.Services.AddWorkloadIsolation(o =>
{
    o.TotalConcurrency = 8;
    o.DefaultClass = "interactive";
    o.AddClass("interactive", c => c.ReservedConcurrency = 4);
    o.AddClass("reporting", c => { c.Priority = 2; c.MaxConcurrency = 2; });
    o.AddClass("batch", c =>
    {
        c.Priority = 3;
        c.MaxConcurrency = 2;
        c.Execution = new WorkloadExecutionOptions { DedicatedThreads = 2, CpuPriority = WorkloadCpuPriority.Lowest };
    });
})
.AddHostedService<NightlyExport>("batch");

using IHost host = builder.Build();
await host.StartAsync();

IWorkloadJobQueue jobs = host.Services.GetRequiredService<IWorkloadJobQueue>();
for (int i = 1; i <= 3; i++)
{
    int report = i;
    await jobs.EnqueueAsync("reporting", async ct =>
    {
        await Task.Delay(TimeSpan.FromMilliseconds(50), ct);
        Console.WriteLine($"Report {report} rendered.");
    }, partition: $"tenant-{report % 2}");
}

IWorkloadScheduler scheduler = host.Services.GetRequiredService<IWorkloadScheduler>();
await scheduler.RunAsync("batch", async ct =>
{
    await Task.Delay(TimeSpan.FromMilliseconds(10), ct);
    Console.WriteLine($"A batch step ran on '{Thread.CurrentThread.Name}'.");
});

await Task.Delay(TimeSpan.FromMilliseconds(500));
await host.StopAsync();
