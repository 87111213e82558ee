using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;

namespace Bulkhead.Admission.Internal;

/// <summary>
/// The one place where work holding a seat starts: on the class's dedicated threads or the calling thread, under the
/// class's execution timeout, freeing the seat when the work ends. In Observe mode, always on the calling thread and
/// never timed out.
/// </summary>
internal sealed partial class ClassState
{
    private static readonly TimerCallback s_onExecutionTimeout = static state => ((ExecutionWatch)state!).Fire();

    /// <inheritdoc />
    public override Task ExecuteAsync(WorkloadLease lease, Func<object?, CancellationToken, Task> work, object? state, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(work);
        ThrowIfNotAcquired(lease);
        if (_runsInline)
        {
            // The common case allocates nothing: no timer, no hop, and no await when the work completes synchronously.
            Task task = Start(lease, work, state, cancellationToken);
            if (task.IsCompletedSuccessfully)
            {
                lease.Dispose();
                return task;
            }

            return ReleaseWhenDoneAsync(task, lease);
        }

        // This class was removed and the work fell back: it runs as the class whose seat it holds.
        ClassState runner = Limits.Removed ? lease.HolderClass ?? this : this;
        if (runner != this && runner._runsInline)
        {
            return runner.ExecuteAsync(lease, work, state, cancellationToken);
        }

        return runner.ExecuteWatchedAsync(
            lease,
            static async (s, token) =>
            {
                var (work, state) = ((Func<object?, CancellationToken, Task>, object?))s!;
                await work(state, token).ConfigureAwait(false);
                return true;
            },
            (work, state),
            cancellationToken);
    }

    /// <inheritdoc />
    public override Task<TResult> ExecuteAsync<TResult>(WorkloadLease lease, Func<object?, CancellationToken, Task<TResult>> work, object? state, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(work);
        ThrowIfNotAcquired(lease);
        ClassState runner = Limits.Removed ? lease.HolderClass ?? this : this;
        if (runner._runsInline)
        {
            // As the untyped overload: no timer, no hop, and no await when the work completes synchronously.
            Task<TResult> task = Start(lease, work, state, cancellationToken);
            if (task.IsCompletedSuccessfully)
            {
                lease.Dispose();
                return task;
            }

            return ReleaseWhenDoneAsync(task, lease);
        }

        return runner.ExecuteWatchedAsync(lease, work, state, cancellationToken);
    }

    private static async Task<TResult> ReleaseWhenDoneAsync<TResult>(Task<TResult> task, WorkloadLease lease)
    {
        try
        {
            return await task.ConfigureAwait(false);
        }
        finally
        {
            lease.Dispose();
        }
    }

    /// <summary>Starts inline work; the seat is freed at once when the work throws before it returns a task.</summary>
    private static TTask Start<TTask>(WorkloadLease lease, Func<object?, CancellationToken, TTask> work, object? state, CancellationToken cancellationToken)
        where TTask : Task
    {
        try
        {
            return work(state, cancellationToken);
        }
        catch
        {
            lease.Dispose();
            throw;
        }
    }

    private static async Task ReleaseWhenDoneAsync(Task task, WorkloadLease lease)
    {
        try
        {
            await task.ConfigureAwait(false);
        }
        finally
        {
            lease.Dispose();
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void ThrowIfNotAcquired(in WorkloadLease lease)
    {
        if (!lease.IsAcquired)
        {
            ThrowNotAcquired();
        }
    }

    [DoesNotReturn]
    private static void ThrowNotAcquired() =>
        throw new ArgumentException("The lease holds no seat: only an acquired lease can run work.", "lease");

    private async Task<TResult> ExecuteWatchedAsync<TResult>(WorkloadLease lease, Func<object?, CancellationToken, Task<TResult>> work, object? state, CancellationToken cancellationToken)
    {
        using (lease)
        {
            // Observe places nothing and times nothing out: the work runs as it would without Bulkhead.
            ClassLimits limits = Limits;
            ExecutionWatch? watch = limits.ExecutionTimeout is { } timeout && !limits.Observes ? new ExecutionWatch(this, timeout, cancellationToken) : null;
            CancellationToken token = watch?.Token ?? cancellationToken;
            try
            {
                Task<TResult> task = !limits.Observes && (lease.IsBacklogged ? BacklogThreads ?? Threads : Threads) is { } threads
                    ? Task.Factory.StartNew(() => work(state, token), CancellationToken.None, TaskCreationOptions.DenyChildAttach, threads).Unwrap()
                    : work(state, token);
                return await task.ConfigureAwait(false);
            }
            finally
            {
                watch?.End();
            }
        }
    }

    /// <summary>
    /// Fires a unit of work's token when it has held its seat longer than the class's execution timeout, and counts it
    /// as overrunning until it ends.
    /// </summary>
    private sealed class ExecutionWatch
    {
        private const int Running = 0;
        private const int Fired = 1;
        private const int Ended = 2;

        private readonly ClassState _class;
        private readonly CancellationTokenSource _source;
        private readonly ITimer _timer;
        private int _state;
        private int _disposeBySecond;

        public ExecutionWatch(ClassState workloadClass, TimeSpan timeout, CancellationToken cancellationToken)
        {
            _class = workloadClass;
            _source = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            Token = _source.Token;
            _timer = workloadClass.Engine.TimeProvider.CreateTimer(s_onExecutionTimeout, this, timeout, Timeout.InfiniteTimeSpan);
        }

        public CancellationToken Token { get; }

        public void Fire()
        {
            if (Interlocked.CompareExchange(ref _state, Fired, Running) != Running)
            {
                return;
            }

            Interlocked.Increment(ref _class.ExecutionTimeouts);
            Interlocked.Increment(ref _class.Overrunning);
            try
            {
                _source.Cancel();
            }
            catch (AggregateException)
            {
                // The work's own cancellation callbacks failed; the work still ends on its own terms.
            }

            DisposeSourceIfSecond();
        }

        public void End()
        {
            _timer.Dispose();
            if (Interlocked.Exchange(ref _state, Ended) == Running)
            {
                // The timer can no longer cancel: its callback finds the watch ended.
                _source.Dispose();
                return;
            }

            Interlocked.Decrement(ref _class.Overrunning);
            DisposeSourceIfSecond();
        }

        /// <summary>Once fired, the source is disposed by whichever of the timer and the work's end comes second.</summary>
        private void DisposeSourceIfSecond()
        {
            if (Interlocked.Exchange(ref _disposeBySecond, 1) == 1)
            {
                _source.Dispose();
            }
        }
    }
}
