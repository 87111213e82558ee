using System.Threading.RateLimiting;
using Microsoft.Extensions.DependencyInjection;

namespace Bulkhead.Benchmarks.Admission;

/// <summary>
/// What the admission benchmarks compare: the platform's limiter and semaphore with <paramref name="permits"/>
/// permits, and a Bulkhead scheduler configured by <paramref name="configure"/>, built from DI as users build it.
/// </summary>
internal sealed class Contenders(int permits, Action<WorkloadIsolationOptions> configure) : IDisposable
{
    private readonly ServiceProvider _services = new ServiceCollection().AddWorkloadIsolation(configure).Services.BuildServiceProvider();

    public ConcurrencyLimiter Limiter { get; } = new(new ConcurrencyLimiterOptions { PermitLimit = permits, QueueLimit = 100 });

    public SemaphoreSlim Semaphore { get; } = new(permits, permits);

    public IWorkloadScheduler Scheduler => _services.GetRequiredService<IWorkloadScheduler>();

    public void Dispose()
    {
        Limiter.Dispose();
        Semaphore.Dispose();
        _services.Dispose();
    }
}
