namespace Bulkhead.TestUtils;

/// <summary>
/// Bounds every await in a test, so that a bug fails the test instead of hanging the run.
/// </summary>
public static class TaskTimeout
{
    /// <summary>How long a test waits for something that should happen at once.</summary>
    public static readonly TimeSpan Bound = TimeSpan.FromSeconds(10);

    /// <summary>Waits for a task, failing with <see cref="TimeoutException"/> after <see cref="Bound"/>.</summary>
    public static Task WithTimeout(this Task task) => task.WaitAsync(Bound);

    /// <summary>Waits for a task, failing with <see cref="TimeoutException"/> after <see cref="Bound"/>.</summary>
    public static Task<T> WithTimeout<T>(this Task<T> task) => task.WaitAsync(Bound);

    /// <summary>Waits for a value task, failing with <see cref="TimeoutException"/> after <see cref="Bound"/>.</summary>
    public static Task<T> WithTimeout<T>(this ValueTask<T> task) => task.AsTask().WaitAsync(Bound);
}
