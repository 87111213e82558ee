using Microsoft.Extensions.Time.Testing;

namespace Bulkhead.Tests.Admission;

/// <summary>Work that holds its seat past the class's execution timeout has its token fired and is counted.</summary>
public sealed class ExecutionTimeoutTests : IDisposable
{
    private readonly FakeTimeProvider _time = new();
    private readonly TestScheduler _scheduler;

    public ExecutionTimeoutTests() =>
        _scheduler = SchedulerFactory.Create(4, o => o.AddClass("reporting", c => c.Execution = new WorkloadExecutionOptions { Timeout = TimeSpan.FromSeconds(5) }), _time);

    public void Dispose() => _scheduler.Dispose();

    [Fact]
    public async Task RunAsync_WorkHonoursItsToken_IsCanceledAtTheTimeoutAndFreesItsSeat()
    {
        Task run = _scheduler.RunAsync("reporting", async token => await Task.Delay(Timeout.InfiniteTimeSpan, _time, token));
        Assert.Equal(1, _scheduler.GetSnapshot()["reporting"].InFlight);

        _time.Advance(TimeSpan.FromSeconds(4.9));
        Assert.False(run.IsCompleted);
        _time.Advance(TimeSpan.FromSeconds(0.1));

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => run.WithTimeout());
        WorkloadClassSnapshot snapshot = _scheduler.GetSnapshot()["reporting"];
        Assert.Equal((0, 1L, 0, TimeSpan.FromSeconds(5)), (snapshot.InFlight, snapshot.ExecutionTimeouts, snapshot.Overrunning, snapshot.ExecutionTimeout));
    }

    [Fact]
    public async Task RunAsync_WorkIgnoresItsToken_ShowsAsOverrunningAndKeepsItsSeatUntilItEnds()
    {
        var gate = new Gate();
        CancellationToken seen = default;
        Task run = _scheduler.RunAsync("reporting", async token => { seen = token; await gate.WaitAsync(); });
        await gate.Entered.WithTimeout();

        _time.Advance(TimeSpan.FromSeconds(5));

        Assert.True(seen.IsCancellationRequested);
        WorkloadClassSnapshot overrunning = _scheduler.GetSnapshot()["reporting"];
        Assert.Equal((1, 1L, 1), (overrunning.InFlight, overrunning.ExecutionTimeouts, overrunning.Overrunning));

        gate.Open();
        await run.WithTimeout();
        WorkloadClassSnapshot ended = _scheduler.GetSnapshot()["reporting"];
        Assert.Equal((0, 1L, 0), (ended.InFlight, ended.ExecutionTimeouts, ended.Overrunning));
    }

    [Fact]
    public async Task RunAsync_WorkEndsInTime_IsNotCountedAndItsTokenNeverFires()
    {
        CancellationToken seen = default;
        int result = await _scheduler.RunAsync("reporting", token => { seen = token; return ValueTask.FromResult(42); }).WithTimeout();

        _time.Advance(TimeSpan.FromSeconds(10));

        Assert.Equal(42, result);
        Assert.False(seen.IsCancellationRequested);
        Assert.Equal(0, _scheduler.GetSnapshot()["reporting"].ExecutionTimeouts);
    }

    [Fact]
    public async Task RunAsync_CallerCancels_TheWorksTokenFiresWithoutCountingATimeout()
    {
        using var caller = new CancellationTokenSource();
        Task run = _scheduler.RunAsync("reporting", async token => await Task.Delay(Timeout.InfiniteTimeSpan, _time, token), cancellationToken: caller.Token);

        await caller.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => run.WithTimeout());
        Assert.Equal((0, 0L), (_scheduler.GetSnapshot()["reporting"].InFlight, _scheduler.GetSnapshot()["reporting"].ExecutionTimeouts));
    }

    [Fact]
    public async Task ExecuteAsync_ClassWithoutTimeout_PassesTheCallersTokenAndFreesTheSeatOnce()
    {
        using TestScheduler scheduler = SchedulerFactory.Create(2, o => o.AddClass("batch"), _time);
        WorkloadClass batch = scheduler.GetClass("batch");
        using var caller = new CancellationTokenSource();
        WorkloadLease lease = batch.TryAcquire();
        CancellationToken seen = default;

        await batch.ExecuteAsync(lease, (state, token) => { seen = token; return Task.CompletedTask; }, null, caller.Token).WithTimeout();
        lease.Dispose();

        Assert.Equal(caller.Token, seen);
        Assert.Equal(0, scheduler.GetSnapshot()["batch"].InFlight);
    }

    [Fact]
    public async Task ExecuteAsync_RejectedLease_ThrowsArgumentException()
    {
        using TestScheduler scheduler = SchedulerFactory.Create(1, o => o.AddClass("batch", c => c.QueueLimit = 0), _time);
        WorkloadClass batch = scheduler.GetClass("batch");
        using WorkloadLease held = batch.TryAcquire();
        WorkloadLease rejected = batch.TryAcquire();

        await Assert.ThrowsAsync<ArgumentException>(() => batch.ExecuteAsync(rejected, (_, _) => Task.CompletedTask, null));
    }

    [Fact]
    public async Task Apply_TimeoutAddedByReload_AppliesToWorkStartedAfterIt()
    {
        using TestScheduler scheduler = SchedulerFactory.Create(2, o => o.AddClass("batch"), _time);
        var options = new WorkloadIsolationOptions { TotalConcurrency = 2, DefaultClass = "batch" };
        options.AddClass("batch", c => c.Execution = new WorkloadExecutionOptions { Timeout = TimeSpan.FromSeconds(1) });
        scheduler.Apply(options);

        Task run = scheduler.RunAsync("batch", async token => await Task.Delay(Timeout.InfiniteTimeSpan, _time, token));
        _time.Advance(TimeSpan.FromSeconds(1));

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => run.WithTimeout());
        Assert.Equal(1, scheduler.GetSnapshot()["batch"].ExecutionTimeouts);
    }
}
