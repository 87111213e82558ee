using Microsoft.Extensions.Hosting;

namespace Jobs;

/// <summary>An ordinary BackgroundService: nothing in it knows about Bulkhead.</summary>
internal sealed class NightlyExport : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        Console.WriteLine($"NightlyExport runs on '{Thread.CurrentThread.Name}'.");
        await Task.Yield();
        Console.WriteLine($"...and after an await, still on '{Thread.CurrentThread.Name}'.");
    }
}
