using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Bulkhead.Shared;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Logging;

namespace Bulkhead.AspNetCore.Rejection.Internal;

/// <summary>
/// Answers a rejected request: 503 (429 when rate limited) with <c>Retry-After</c>, then the user's
/// <see cref="WorkloadIsolationHttpOptions.OnRejected"/> or an RFC 9457 problem details body.
/// </summary>
/// <param name="options">The HTTP settings.</param>
/// <param name="logger">Where rejections are logged (at Debug).</param>
/// <param name="configuration">The configuration in force, to say which limit refused a request; none to leave it out.</param>
/// <param name="problemDetails">
/// The app's <see cref="IProblemDetailsService"/>, resolved once from the application's services as ASP.NET Core's own
/// middleware do (it is a singleton), so that a refusal pays for no service lookup.
/// </param>
/// <param name="pacer">What holds refusals while they storm; none to answer every one at once.</param>
internal sealed partial class RejectionWriter(WorkloadIsolationHttpOptions options, ILogger logger, Func<WorkloadIsolationOptions>? configuration = null, IProblemDetailsService? problemDetails = null, RefusalPacer? pacer = null)
{
    // As ASP.NET Core's own problem details: a type for the status (RFC 9110 for 503, RFC 6585 for 429) and a traceId.
    private const string ServiceUnavailableType = "https://tools.ietf.org/html/rfc9110#section-15.6.4";
    private const string TooManyRequestsType = "https://tools.ietf.org/html/rfc6585#section-4";

    public Task WriteAsync(HttpContext context, WorkloadLease lease) =>
        WriteAsync(context, lease.WorkloadClass, lease.RejectionReason ?? WorkloadRejectionReason.QueueFull, lease.RetryAfter);

    /// <summary>Answers a rejection, the middleware's own or one thrown by code the request ran.</summary>
    public Task WriteAsync(HttpContext context, string workloadClass, WorkloadRejectionReason reason, TimeSpan? retryAfterHint)
    {
        // Which limit refused it is said only where someone reads it: a storm of refusals pays for no text it drops.
        string limit = options.IncludeRejectionDetails || logger.IsEnabled(LogLevel.Debug) ? DescribeLimit(configuration?.Invoke(), workloadClass, reason) : string.Empty;
        LogRejected(logger, workloadClass, reason, limit);
        if (context.Response.HasStarted)
        {
            return Task.CompletedTask;
        }

        return pacer?.ShouldHold() == true
            ? HoldThenAnswerAsync(context, workloadClass, reason, retryAfterHint, limit)
            : Answer(context, workloadClass, reason, retryAfterHint, limit);
    }

    /// <summary>A refusal while refusals storm: answered after the pacer's hold, unless the client left meanwhile.</summary>
    private async Task HoldThenAnswerAsync(HttpContext context, string workloadClass, WorkloadRejectionReason reason, TimeSpan? retryAfterHint, string limit)
    {
        if (await pacer!.HoldAsync(context.RequestAborted).ConfigureAwait(false) && !context.Response.HasStarted)
        {
            await Answer(context, workloadClass, reason, retryAfterHint, limit).ConfigureAwait(false);
        }
    }

    private Task Answer(HttpContext context, string workloadClass, WorkloadRejectionReason reason, TimeSpan? retryAfterHint, string limit)
    {
        bool rateLimited = reason == WorkloadRejectionReason.RateLimited;
        int status = (int)HttpRefusal.Status(reason);
        long seconds = HttpRefusal.Seconds(retryAfterHint ?? options.DefaultRetryAfter);
        context.Response.StatusCode = status;

        // A request wider than its class can ever seat is refused however long the client waits: no Retry-After.
        bool retryable = HttpRefusal.IsRetryable(reason);
        if (retryable)
        {
            context.Response.Headers.RetryAfter = seconds.ToString(CultureInfo.InvariantCulture);
        }

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

        string traceId = Activity.Current?.Id ?? context.TraceIdentifier;
        IProblemDetailsService? service = problemDetails;
        if (service is null && !options.IncludeRejectionDetails
            && ProblemBodyTemplate.For(rateLimited, retryable ? seconds : null) is { } template && template.TryWrite(context, traceId, out Task? written))
        {
            // The common refusal: the body made once for its status and Retry-After, the traceId copied in.
            return written;
        }

        string type = rateLimited ? TooManyRequestsType : ServiceUnavailableType;
        string title = Title(rateLimited);
        string detail = (options.IncludeRejectionDetails, retryable) switch
        {
            (true, true) => string.Create(CultureInfo.InvariantCulture, $"Workload class '{workloadClass}' rejected the request: {reason}, {limit}. Retry after {seconds} s."),
            (true, false) => string.Create(CultureInfo.InvariantCulture, $"Workload class '{workloadClass}' rejected the request: {reason}, {limit}. Retrying cannot help."),
            (false, true) => RetryAfterDetail(seconds),
            (false, false) => NotRetryableDetail,
        };

        // The app's IProblemDetailsService, when it has one, writes it (its customizations apply); otherwise the body is
        // written here directly, the same JSON as ASP.NET Core's, without building a result and serializing an object.
        if (service is not null)
        {
            var problem = new ProblemDetails
            {
                Type = type,
                Status = status,
                Title = title,
                Detail = detail,
                Extensions = { ["traceId"] = traceId },
            };
            if (retryable)
            {
                problem.Extensions["retryAfter"] = seconds;
            }

            if (options.IncludeRejectionDetails)
            {
                problem.Extensions["workloadClass"] = workloadClass;
                problem.Extensions["reason"] = reason.ToString();
                problem.Extensions["limit"] = limit;
            }

            return WriteProblemAsync(context, service, problem);
        }

        return WriteBodyAsync(context, type, title, status, detail, traceId, retryable ? seconds : null, options.IncludeRejectionDetails ? (workloadClass, reason, limit) : null);
    }

    private const string NotRetryableDetail = "Retrying cannot help.";

    private static string Title(bool rateLimited) => rateLimited ? "Too many requests" : "Service busy";

    /// <summary>The default body of a refusal with no details, as <see cref="ProblemBodyTemplate"/> keeps it: <paramref name="traceId"/> in its place.</summary>
    internal static void WriteDefaultBody(Utf8JsonWriter writer, bool rateLimited, long? retryAfter, string traceId) =>
        WriteBody(
            writer,
            rateLimited ? TooManyRequestsType : ServiceUnavailableType,
            Title(rateLimited),
            rateLimited ? StatusCodes.Status429TooManyRequests : StatusCodes.Status503ServiceUnavailable,
            retryAfter is { } seconds ? RetryAfterDetail(seconds) : NotRetryableDetail,
            traceId,
            retryAfter,
            details: null);

    private static readonly string[] s_retryAfterDetails = [.. Enumerable.Range(0, 121).Select(s => string.Create(CultureInfo.InvariantCulture, $"Retry after {s} s."))];

    private static readonly JsonEncodedText s_type = JsonEncodedText.Encode("type");
    private static readonly JsonEncodedText s_title = JsonEncodedText.Encode("title");
    private static readonly JsonEncodedText s_status = JsonEncodedText.Encode("status");
    private static readonly JsonEncodedText s_detail = JsonEncodedText.Encode("detail");
    private static readonly JsonEncodedText s_traceId = JsonEncodedText.Encode("traceId");
    private static readonly JsonEncodedText s_retryAfter = JsonEncodedText.Encode("retryAfter");
    private static readonly JsonEncodedText s_workloadClass = JsonEncodedText.Encode("workloadClass");
    private static readonly JsonEncodedText s_reason = JsonEncodedText.Encode("reason");
    private static readonly JsonEncodedText s_limit = JsonEncodedText.Encode("limit");

    private static readonly System.Buffers.ArrayBufferWriter<byte> s_nowhere = new(1);

    [ThreadStatic]
    private static Utf8JsonWriter? t_writer;

    private static string RetryAfterDetail(long seconds) =>
        seconds < s_retryAfterDetails.Length ? s_retryAfterDetails[seconds] : string.Create(CultureInfo.InvariantCulture, $"Retry after {seconds} s.");

    /// <summary>The problem details body, written straight to the response (a writer reused per thread, nothing else kept).</summary>
    private static Task WriteBodyAsync(HttpContext context, string type, string title, int status, string detail, string traceId, long? retryAfter, (string WorkloadClass, WorkloadRejectionReason Reason, string Limit)? details)
    {
        context.Response.ContentType = "application/problem+json";
        System.IO.Pipelines.PipeWriter body = context.Response.BodyWriter;
        Utf8JsonWriter writer = t_writer ??= new Utf8JsonWriter(body);
        writer.Reset(body);
        try
        {
            WriteBody(writer, type, title, status, detail, traceId, retryAfter, details);
        }
        finally
        {
            // Nothing of the request kept by the thread's writer.
            writer.Reset(s_nowhere);
        }

        ValueTask<System.IO.Pipelines.FlushResult> flushing = body.FlushAsync(context.RequestAborted);
        return flushing.IsCompletedSuccessfully ? Task.CompletedTask : flushing.AsTask();
    }

    private static void WriteBody(Utf8JsonWriter writer, string type, string title, int status, string detail, string traceId, long? retryAfter, (string WorkloadClass, WorkloadRejectionReason Reason, string Limit)? details)
    {
        writer.WriteStartObject();
        writer.WriteString(s_type, type);
        writer.WriteString(s_title, title);
        writer.WriteNumber(s_status, status);
        writer.WriteString(s_detail, detail);
        writer.WriteString(s_traceId, traceId);
        if (retryAfter is { } seconds)
        {
            writer.WriteNumber(s_retryAfter, seconds);
        }

        if (details is { } named)
        {
            writer.WriteString(s_workloadClass, named.WorkloadClass);
            writer.WriteString(s_reason, named.Reason.ToString());
            writer.WriteString(s_limit, named.Limit);
        }

        writer.WriteEndObject();
        writer.Flush();
    }

    /// <summary>
    /// Writes one problem details body to nowhere, in the background, when the pipeline is built: the first refusals
    /// of a fresh process otherwise pay for compiling that path (JSON serialization of <see cref="ProblemDetails"/>) while
    /// a storm arrives. Measured: an admin storm on a fresh server took the interactive p99 to 6.1× its baseline without
    /// it (see docs/benchmarks.md).
    /// </summary>
    public static Task WarmUpAsync(IServiceProvider services) => Task.Run(async () =>
    {
        var context = new DefaultHttpContext { RequestServices = services };
        context.Response.Body = Stream.Null;
        var problem = new ProblemDetails
        {
            Type = ServiceUnavailableType,
            Status = StatusCodes.Status503ServiceUnavailable,
            Title = "Service busy",
            Detail = "Retry after 1 s.",
            Extensions = { ["retryAfter"] = 1L, ["traceId"] = "warm-up" },
        };
        try
        {
            await WriteBodyAsync(context, ServiceUnavailableType, "Service busy", StatusCodes.Status503ServiceUnavailable, "Retry after 1 s.", "warm-up", 1, null).ConfigureAwait(false);
            context.Response.Body = Stream.Null;
            await Results.Problem(problem).ExecuteAsync(context).ConfigureAwait(false);
        }
        catch (InvalidOperationException)
        {
            // An app whose services cannot write a result outside a request: the first refusal compiles the path instead.
        }
    });

    /// <summary>Writes through the app's <see cref="IProblemDetailsService"/>, so its customizations apply.</summary>
    private static async Task WriteProblemAsync(HttpContext context, IProblemDetailsService service, ProblemDetails problem)
    {
        if (!await service.TryWriteAsync(new ProblemDetailsContext { HttpContext = context, ProblemDetails = problem }).ConfigureAwait(false))
        {
            await Results.Problem(problem).ExecuteAsync(context).ConfigureAwait(false);
        }
    }

    /// <summary>Which limit refused the request, as the configuration in force sets it.</summary>
    internal static string DescribeLimit(WorkloadIsolationOptions? configuration, string workloadClass, WorkloadRejectionReason reason)
    {
        if (reason == WorkloadRejectionReason.ShuttingDown)
        {
            return "the host is stopping";
        }

        if (configuration is null || !configuration.Classes.TryGetValue(workloadClass, out WorkloadClassOptions? c))
        {
            return "its limits";
        }

        return reason switch
        {
            WorkloadRejectionReason.QueueFull => c.QueueLimit == 0
                ? "no seat was free and it queues nothing (QueueLimit 0)"
                : string.Create(CultureInfo.InvariantCulture, $"its queue was full (QueueLimit {c.QueueLimit})"),
            WorkloadRejectionReason.QueueTimeout => string.Create(CultureInfo.InvariantCulture, $"no seat freed within its QueueTimeout ({c.QueueTimeout})"),
            WorkloadRejectionReason.RateLimited when c.Fleet is not null => FleetLimits(c),
            WorkloadRejectionReason.RateLimited when c.RateLimit is { } rate => string.Create(
                CultureInfo.InvariantCulture,
                $"its RateLimit ({rate.PermitsPerSecond} per second, burst {rate.Burst?.ToString(CultureInfo.InvariantCulture) ?? "one second's worth"}{(rate.PerPartition ? ", per partition" : "")})"),
            WorkloadRejectionReason.RateLimited => "its rate limiter",
            WorkloadRejectionReason.DeadlineExceeded => "the deadline its caller set passed before a seat was free",
            WorkloadRejectionReason.Shed => ShedLimits(c),
            WorkloadRejectionReason.WeightTooLarge => string.Create(
                CultureInfo.InvariantCulture,
                $"its weight is more seats than the class can ever give (MaxConcurrency {c.MaxConcurrency?.ToString(CultureInfo.InvariantCulture) ?? "TotalConcurrency"}{(c.MaxConcurrencyPerPartition is { } perPartition ? string.Create(CultureInfo.InvariantCulture, $", MaxConcurrencyPerPartition {perPartition}") : "")})"),
            _ => "its limits",
        };
    }

    /// <summary>The thresholds at which a class is shed under pressure.</summary>
    private static string ShedLimits(WorkloadClassOptions c)
    {
        List<string> thresholds = [];
        if (c.Shed?.CpuAbove is { } cpu)
        {
            thresholds.Add(string.Create(CultureInfo.InvariantCulture, $"CpuAbove {cpu}"));
        }

        if (c.Shed?.MemoryAbove is { } memory)
        {
            thresholds.Add(string.Create(CultureInfo.InvariantCulture, $"MemoryAbove {memory}"));
        }

        return $"the process is under pressure (its Shed: {string.Join(", ", thresholds)})";
    }

    /// <summary>A class's fleet-wide limits, any of which may have refused: its fleet rate and its fleet caps.</summary>
    private static string FleetLimits(WorkloadClassOptions c)
    {
        List<string> limits = [];
        if (c.Fleet?.RateLimit is { } rate)
        {
            limits.Add(string.Create(CultureInfo.InvariantCulture, $"RateLimit {rate.PermitsPerSecond} per second{(rate.PerPartition ? " per partition" : "")}"));
        }

        if (c.Fleet?.MaxConcurrency is { } max)
        {
            limits.Add(string.Create(CultureInfo.InvariantCulture, $"MaxConcurrency {max}"));
        }

        if (c.Fleet?.MaxConcurrencyPerPartition is { } perPartition)
        {
            limits.Add(string.Create(CultureInfo.InvariantCulture, $"MaxConcurrencyPerPartition {perPartition}"));
        }

        return $"its fleet-wide limits ({string.Join(", ", limits)}, across every replica)";
    }

    [LoggerMessage(2, LogLevel.Debug, "Workload class '{WorkloadClass}' rejected a request: {Reason}, {Limit}.")]
    private static partial void LogRejected(ILogger logger, string workloadClass, WorkloadRejectionReason reason, string limit);
}
