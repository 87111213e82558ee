using Bulkhead.Timing.Internal;
using Microsoft.Extensions.Time.Testing;

namespace Bulkhead.Tests.Timing;

public sealed class TimerThreadTests
{
    [Fact]
    public async Task Create_SystemClock_RunsCallbacksOffTheThreadPool_UntilDisposed()
    {
        var ran = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
        int calls = 0;
        ITimer timer = TimerThread.Create(
            TimeProvider.System,
            _ =>
            {
                if (Interlocked.Increment(ref calls) == 3)
                {
                    ran.TrySetResult(Thread.CurrentThread.IsThreadPoolThread);
                }
            },
            state: null,
            TimeSpan.FromMilliseconds(1),
            TimeSpan.FromMilliseconds(1),
            "test timer");

        Assert.False(await ran.Task.WithTimeout(), "the callback ran on a ThreadPool thread");
        timer.Dispose();
        int afterDispose = Volatile.Read(ref calls);
        await Task.Delay(50);
        Assert.InRange(Volatile.Read(ref calls), afterDispose, afterDispose + 1);   // at most the one already under way
        Assert.False(timer.Change(TimeSpan.Zero, Timeout.InfiniteTimeSpan));
    }

    [Fact]
    public async Task Change_InfiniteThenDue_FiresOnceWhenDue()
    {
        var fired = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        int calls = 0;
        using ITimer timer = TimerThread.Create(TimeProvider.System, _ => { Interlocked.Increment(ref calls); fired.TrySetResult(); }, null, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan, "test timer");
        await Task.Delay(20);
        Assert.Equal(0, Volatile.Read(ref calls));

        timer.Change(TimeSpan.FromMilliseconds(5), Timeout.InfiniteTimeSpan);
        await fired.Task.WithTimeout();
        await Task.Delay(30);
        Assert.Equal(1, Volatile.Read(ref calls));
    }

    [Fact]
    public void Create_AnyOtherClock_UsesThatClocksTimer()
    {
        var time = new FakeTimeProvider();
        int calls = 0;
        using ITimer timer = TimerThread.Create(time, _ => calls++, null, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1), "test timer");

        time.Advance(TimeSpan.FromSeconds(3));

        Assert.Equal(3, calls);
    }
}
