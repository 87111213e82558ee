using System.Net;

namespace Bulkhead.Http.Tests;

/// <summary>
/// A downstream service in memory, as a client's primary handler: it counts the calls that reach it and holds each
/// until the test lets it answer, or until the call's token fires.
/// </summary>
internal sealed class Dependency : HttpMessageHandler
{
    private readonly Lock _gate = new();
    private readonly Queue<TaskCompletionSource> _held = new();
    private int _reached;

    /// <summary>Gets whether calls are held until <see cref="AnswerOne"/>; when false they are answered at once.</summary>
    public bool Holds { get; init; } = true;

    /// <summary>Gets how many calls reached the dependency.</summary>
    public int Reached => Volatile.Read(ref _reached);

    /// <summary>Gets the exception every call fails with, if any.</summary>
    public Exception? Fails { get; init; }

    /// <summary>Completes when <paramref name="count"/> calls have reached the dependency.</summary>
    public Task ArrivalsAsync(int count) => Eventually.TrueAsync(() => Reached >= count, $"{count} calls reach the dependency");

    /// <summary>Answers the oldest held call.</summary>
    public void AnswerOne()
    {
        lock (_gate)
        {
            _held.Dequeue().TrySetResult();
        }
    }

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _reached);
        if (Fails is { } failure)
        {
            throw failure;
        }

        if (Holds)
        {
            var answer = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            lock (_gate)
            {
                _held.Enqueue(answer);
            }

            await answer.Task.WaitAsync(cancellationToken).WithTimeout();
        }

        return new HttpResponseMessage(HttpStatusCode.OK) { RequestMessage = request };
    }

    protected override HttpResponseMessage Send(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _reached);
        return new HttpResponseMessage(HttpStatusCode.OK) { RequestMessage = request };
    }
}
