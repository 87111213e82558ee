using Bulkhead.Admission.Internal;

namespace Bulkhead.Execution.Internal;

/// <summary>
/// Fires a unit of work's token when it has held its seat longer than the class's execution timeout, and counts it
/// as overrunning until it ends.
/// </summary>
internal sealed class ExecutionWatch
{
    private const int Running = 0;
    private const int Fired = 1;
    private const int Ended = 2;

    private static readonly TimerCallback s_onExecutionTimeout = static state => ((ExecutionWatch)state!).Fire();

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
