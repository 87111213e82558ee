using Microsoft.Extensions.DependencyInjection;

namespace Bulkhead.Tests.Jobs;

/// <summary>
/// Code users write from the docs compiles and works: Task-returning methods as work, and job items with a DI scope of
/// their own.
/// </summary>
public sealed class NewcomerApiTests : IAsyncDisposable
{
    private readonly ServiceProvider _services;
    private readonly List<string> _done = [];

    public NewcomerApiTests()
    {
        _services = new ServiceCollection()
            .AddScoped<UnitOfWork>()
            .AddWorkloadIsolation(o => o.AddClass("reporting", c => c.MaxConcurrency = 2).AddClass("batch", c => c.Priority = 3).DefaultClass = "reporting")
            .Services.BuildServiceProvider();
    }

    [Fact]
    public async Task TaskReturningMethods_AreWorkForRunAsyncAndEnqueueAsync()
    {
        var scheduler = _services.GetRequiredService<IWorkloadScheduler>();
        var jobs = _services.GetRequiredService<IWorkloadJobQueue>();
        int id = 7;

        // As the README writes them: a method returning Task, a method returning Task<T>, and an async lambda.
        await scheduler.RunAsync("batch", ct => RenderAsync(id, ct));
        int count = await scheduler.RunAsync("batch", ct => CountAsync(ct));
        await scheduler.RunAsync("batch", async ct => await RenderAsync(8, ct));
        await jobs.EnqueueAsync("reporting", ct => RenderAsync(9, ct), partition: "tenant-1");

        await Eventually.TrueAsync(() => { lock (_done) { return _done.Count == 4; } }, "every piece of work ran");
        Assert.Equal(3, count);
        lock (_done)
        {
            Assert.Equal(["7", "8", "9", "count"], _done.Order());
        }
    }

    [Fact]
    public async Task JobItemWithServices_RunsInAScopeOfItsOwnDisposedWhenItEnds()
    {
        var jobs = _services.GetRequiredService<IWorkloadJobQueue>();
        var seen = new List<UnitOfWork>();
        var queue = (Bulkhead.Jobs.Internal.WorkloadJobQueue)jobs;

        for (int i = 0; i < 2; i++)
        {
            await jobs.EnqueueAsync("batch", async (services, ct) =>
            {
                UnitOfWork work = services.GetRequiredService<UnitOfWork>();
                lock (seen)
                {
                    seen.Add(work);
                }

                await Task.Yield();
                Assert.False(work.Disposed);
            });
        }

        await Eventually.TrueAsync(() => queue.Completed == 2, "both items ran");
        Assert.NotSame(seen[0], seen[1]);
        Assert.All(seen, work => Assert.True(work.Disposed));
        Assert.Equal(0, queue.Failed);
    }

    public ValueTask DisposeAsync() => _services.DisposeAsync();

    private async Task RenderAsync(int id, CancellationToken cancellationToken)
    {
        await Task.Yield();
        cancellationToken.ThrowIfCancellationRequested();
        lock (_done)
        {
            _done.Add(id.ToString(System.Globalization.CultureInfo.InvariantCulture));
        }
    }

    private async Task<int> CountAsync(CancellationToken cancellationToken)
    {
        await Task.Delay(1, cancellationToken);
        lock (_done)
        {
            _done.Add("count");
        }

        return 3;
    }

    private sealed class UnitOfWork : IAsyncDisposable
    {
        public bool Disposed { get; private set; }

        public ValueTask DisposeAsync()
        {
            Disposed = true;
            return ValueTask.CompletedTask;
        }
    }
}
