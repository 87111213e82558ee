namespace Bulkhead.Http.Internal;

/// <summary>
/// Tells the called service which unit of work a call is made for: the current <see cref="WorkloadContext"/>'s class,
/// and the time its caller still waits. Headers of those names already on the request are replaced (or removed when
/// no context is current), so that a call never forwards what it was sent. A call whose deadline has passed is not
/// sent: nobody waits for its answer.
/// </summary>
internal sealed class WorkloadPropagationHandler(string classHeader, string timeoutHeader, TimeProvider time) : DelegatingHandler
{
    protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        Stamp(request);
        return base.SendAsync(request, cancellationToken);
    }

    protected override HttpResponseMessage Send(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        Stamp(request);
        return base.Send(request, cancellationToken);
    }

    private void Stamp(HttpRequestMessage request)
    {
        request.Headers.Remove(classHeader);
        request.Headers.Remove(timeoutHeader);
        if (WorkloadContext.Current is not { } work)
        {
            return;
        }

        request.Headers.TryAddWithoutValidation(classHeader, work.WorkloadClass);
        if (work.Deadline is { } deadline)
        {
            long milliseconds = (long)Math.Floor((deadline - time.GetUtcNow()).TotalMilliseconds);
            if (milliseconds <= 0)
            {
                throw new WorkloadRejectedException(work.WorkloadClass, WorkloadRejectionReason.DeadlineExceeded, retryAfter: null);
            }

            request.Headers.TryAddWithoutValidation(timeoutHeader, milliseconds.ToString(System.Globalization.CultureInfo.InvariantCulture));
        }
    }
}
