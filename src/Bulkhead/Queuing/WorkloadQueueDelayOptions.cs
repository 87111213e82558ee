namespace Bulkhead;

/// <summary>
/// Queue delay control for a class (controlled delay, as in CoDel): while the class's queue has not been empty for
/// <see cref="Interval"/>, it is standing, not absorbing a burst, and work that starts waiting then waits at most
/// <see cref="Target"/> instead of the class's <c>QueueTimeout</c>, and is served newest first
/// (<see cref="LifoWhenStanding"/>). A burst still queues for the whole <c>QueueTimeout</c>; a sustained overload keeps
/// queue waits near the target while the class's seats stay busy.
/// </summary>
public sealed class WorkloadQueueDelayOptions
{
    /// <summary>Gets or sets how long work that starts waiting while the queue stands may wait; positive, at most the class's <c>QueueTimeout</c>.</summary>
    /// <value>The default value is 5 ms.</value>
    public TimeSpan Target { get; set; } = TimeSpan.FromMilliseconds(5);

    /// <summary>Gets or sets how long the queue must have held work, without a moment empty, before it counts as standing; positive, at most an hour.</summary>
    /// <value>The default value is 100 ms.</value>
    public TimeSpan Interval { get; set; } = TimeSpan.FromMilliseconds(100);

    /// <summary>
    /// Gets or sets a value indicating whether work that starts waiting while the queue stands is served before the work
    /// already waiting (newest first): under overload the newest is the one whose caller is most likely still there.
    /// </summary>
    /// <value>The default value is <see langword="true"/>.</value>
    public bool LifoWhenStanding { get; set; } = true;
}
