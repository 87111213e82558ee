namespace Bulkhead.LoadTest.Server;

/// <summary>
/// A shared downstream of fixed capacity, as a database with a fixed number of workers is: a call takes some units of
/// it (a report's parallel query takes many, a lookup one) for a while, and calls that find too few units free wait in
/// one first-in-first-out line, so a lookup behind a wide query waits for it.
/// </summary>
internal sealed class Downstream(int capacity)
{
    private readonly Lock _lock = new();
    private readonly Queue<(int Units, TaskCompletionSource Ready)> _waiting = new();
    private int _free = capacity;

    public int Capacity { get; } = capacity;

    /// <summary>Takes <paramref name="units"/> units (waiting in line when too few are free), holds them for <paramref name="time"/>, and gives them back.</summary>
    public async Task UseAsync(int units, TimeSpan time)
    {
        Task ready;
        lock (_lock)
        {
            if (_waiting.Count == 0 && _free >= units)
            {
                _free -= units;
                ready = Task.CompletedTask;
            }
            else
            {
                var waiter = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                _waiting.Enqueue((units, waiter));
                ready = waiter.Task;
            }
        }

        await ready.ConfigureAwait(false);
        try
        {
            await Task.Delay(time).ConfigureAwait(false);
        }
        finally
        {
            Release(units);
        }
    }

    private void Release(int units)
    {
        List<TaskCompletionSource> go = [];
        lock (_lock)
        {
            _free += units;
            while (_waiting.TryPeek(out (int Units, TaskCompletionSource Ready) head) && head.Units <= _free)
            {
                _free -= head.Units;
                _waiting.Dequeue();
                go.Add(head.Ready);
            }
        }

        go.ForEach(ready => ready.TrySetResult());
    }
}
