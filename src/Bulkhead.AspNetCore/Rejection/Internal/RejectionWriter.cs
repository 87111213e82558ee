using System.Globalization;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Bulkhead.AspNetCore.Rejection.Internal;

/// <summary>
/// Answers a rejected request: 503 (429 when rate limited) with <c>Retry-After</c>, then the user's
/// <see cref="WorkloadIsolationHttpOptions.OnRejected"/> or an RFC 9457 problem details body.
/// </summary>
internal sealed partial class RejectionWriter(WorkloadIsolationHttpOptions options, ILogger logger)
{
    public Task WriteAsync(HttpContext context, WorkloadLease lease)
    {
        WorkloadRejectionReason reason = lease.RejectionReason ?? WorkloadRejectionReason.QueueFull;
        LogRejected(logger, lease.WorkloadClass, reason);
        if (context.Response.HasStarted)
        {
            return Task.CompletedTask;
        }

        int status = reason == WorkloadRejectionReason.RateLimited ? StatusCodes.Status429TooManyRequests : StatusCodes.Status503ServiceUnavailable;
        TimeSpan retryAfter = lease.RetryAfter ?? options.DefaultRetryAfter;
        long seconds = Math.Max(1, (long)Math.Ceiling(retryAfter.TotalSeconds));
        context.Response.StatusCode = status;
        context.Response.Headers.RetryAfter = seconds.ToString(CultureInfo.InvariantCulture);

        if (options.OnRejected is { } onRejected)
        {
            var rejected = new WorkloadRejectedContext
            {
                HttpContext = context,
                WorkloadClass = lease.WorkloadClass,
                Reason = reason,
                RetryAfter = TimeSpan.FromSeconds(seconds),
            };
            return onRejected(rejected, context.RequestAborted).AsTask();
        }

        IResult problem = Results.Problem(
            statusCode: status,
            title: reason == WorkloadRejectionReason.RateLimited ? "Too many requests" : "Service busy",
            detail: string.Create(CultureInfo.InvariantCulture, $"Workload class '{lease.WorkloadClass}' rejected the request: {reason}. Retry after {seconds} s."),
            extensions: new Dictionary<string, object?>
            {
                ["workloadClass"] = lease.WorkloadClass,
                ["reason"] = reason.ToString(),
                ["retryAfter"] = seconds,
            });
        return problem.ExecuteAsync(context);
    }

    [LoggerMessage(2, LogLevel.Debug, "Workload class '{WorkloadClass}' rejected a request: {Reason}.")]
    private static partial void LogRejected(ILogger logger, string workloadClass, WorkloadRejectionReason reason);
}
