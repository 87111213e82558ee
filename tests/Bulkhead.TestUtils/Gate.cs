namespace Bulkhead.TestUtils;

/// <summary>
/// Holds work in flight until the test opens it.
/// </summary>
public sealed class Gate
{
    private readonly TaskCompletionSource _opened = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _entered = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Gets a task that completes once work has reached the gate.</summary>
    public Task Entered => _entered.Task;

    /// <summary>Lets held work go on.</summary>
    public void Open() => _opened.TrySetResult();

    /// <summary>Marks arrival, then waits until the gate opens (bounded).</summary>
    public Task WaitAsync()
    {
        _entered.TrySetResult();
        return _opened.Task.WithTimeout();
    }
}
