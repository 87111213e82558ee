using System.Globalization;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.DependencyInjection;
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

        var problem = new ProblemDetails
        {
            Status = status,
            Title = reason == WorkloadRejectionReason.RateLimited ? "Too many requests" : "Service busy",
            Detail = string.Create(CultureInfo.InvariantCulture, $"Workload class '{lease.WorkloadClass}' rejected the request: {reason}. Retry after {seconds} s."),
            Extensions =
            {
                ["workloadClass"] = lease.WorkloadClass,
                ["reason"] = reason.ToString(),
                ["retryAfter"] = seconds,
            },
        };
        return WriteProblemAsync(context, problem);
    }

    /// <summary>Writes through the app's <see cref="IProblemDetailsService"/> when it has one, so its customizations apply.</summary>
    private static async Task WriteProblemAsync(HttpContext context, ProblemDetails problem)
    {
        if (context.RequestServices?.GetService<IProblemDetailsService>() is { } service
            && await service.TryWriteAsync(new ProblemDetailsContext { HttpContext = context, ProblemDetails = problem }).ConfigureAwait(false))
        {
            return;
        }

        await Results.Problem(problem).ExecuteAsync(context).ConfigureAwait(false);
    }

    [LoggerMessage(2, LogLevel.Debug, "Workload class '{WorkloadClass}' rejected a request: {Reason}.")]
    private static partial void LogRejected(ILogger logger, string workloadClass, WorkloadRejectionReason reason);
}
