using System.Diagnostics;
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
    // As ASP.NET Core's own problem details: a type for the status (RFC 9110 for 503, RFC 6585 for 429) and a traceId.
    private const string ServiceUnavailableType = "https://tools.ietf.org/html/rfc9110#section-15.6.4";
    private const string TooManyRequestsType = "https://tools.ietf.org/html/rfc6585#section-4";

    public Task WriteAsync(HttpContext context, WorkloadLease lease) =>
        WriteAsync(context, lease.WorkloadClass, lease.RejectionReason ?? WorkloadRejectionReason.QueueFull, lease.RetryAfter);

    /// <summary>Answers a rejection, the middleware's own or one thrown by code the request ran.</summary>
    public Task WriteAsync(HttpContext context, string workloadClass, WorkloadRejectionReason reason, TimeSpan? retryAfterHint)
    {
        LogRejected(logger, workloadClass, reason);
        if (context.Response.HasStarted)
        {
            return Task.CompletedTask;
        }

        bool rateLimited = reason == WorkloadRejectionReason.RateLimited;
        int status = rateLimited ? StatusCodes.Status429TooManyRequests : StatusCodes.Status503ServiceUnavailable;
        TimeSpan retryAfter = retryAfterHint ?? options.DefaultRetryAfter;
        long seconds = Math.Max(1, (long)Math.Ceiling(retryAfter.TotalSeconds));
        context.Response.StatusCode = status;
        context.Response.Headers.RetryAfter = seconds.ToString(CultureInfo.InvariantCulture);

        if (options.OnRejected is { } onRejected)
        {
            var rejected = new WorkloadRejectedContext
            {
                HttpContext = context,
                WorkloadClass = workloadClass,
                Reason = reason,
                RetryAfter = TimeSpan.FromSeconds(seconds),
            };
            return onRejected(rejected, context.RequestAborted).AsTask();
        }

        var problem = new ProblemDetails
        {
            Type = rateLimited ? TooManyRequestsType : ServiceUnavailableType,
            Status = status,
            Title = rateLimited ? "Too many requests" : "Service busy",
            Detail = options.IncludeRejectionDetails
                ? string.Create(CultureInfo.InvariantCulture, $"Workload class '{workloadClass}' rejected the request: {reason}. Retry after {seconds} s.")
                : string.Create(CultureInfo.InvariantCulture, $"Retry after {seconds} s."),
            Extensions =
            {
                ["retryAfter"] = seconds,
                ["traceId"] = Activity.Current?.Id ?? context.TraceIdentifier,
            },
        };
        if (options.IncludeRejectionDetails)
        {
            problem.Extensions["workloadClass"] = workloadClass;
            problem.Extensions["reason"] = reason.ToString();
        }

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
