namespace Bulkhead.Timing.Internal;

/// <summary>
/// Creates timers that outlive the call that made them without carrying its <see cref="ExecutionContext"/> (its
/// AsyncLocals: an Activity, a request's scope), which would otherwise stay alive as long as the timer.
/// </summary>
internal static class UnflowedTimer
{
    public static ITimer Create(Func<ITimer> create)
    {
        if (ExecutionContext.IsFlowSuppressed())
        {
            return create();
        }

        using (ExecutionContext.SuppressFlow())
        {
            return create();
        }
    }
}
