using Bulkhead.AspNetCore.Rejection.Internal;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;

namespace Bulkhead.AspNetCore.Tests.Rejection;

public sealed class RejectionWriterTests
{
    [Theory]
    [InlineData(WorkloadRejectionReason.QueueFull, 503)]
    [InlineData(WorkloadRejectionReason.QueueTimeout, 503)]
    [InlineData(WorkloadRejectionReason.ShuttingDown, 503)]
    [InlineData(WorkloadRejectionReason.RateLimited, 429)]
    public async Task WriteAsync_MapsReasonToStatus(WorkloadRejectionReason reason, int status)
    {
        DefaultHttpContext context = NewContext();

        await new RejectionWriter(new(), NullLogger.Instance).WriteAsync(context, new WorkloadLease("reporting", reason, null)).WithTimeout();

        Assert.Equal(status, context.Response.StatusCode);
    }

    [Theory]
    [InlineData(0.2, "1")]
    [InlineData(1.0, "1")]
    [InlineData(1.01, "2")]
    [InlineData(30, "30")]
    public async Task WriteAsync_RetryAfter_WholeSecondsRoundedUpAtLeastOne(double seconds, string header)
    {
        DefaultHttpContext context = NewContext();

        await new RejectionWriter(new(), NullLogger.Instance)
            .WriteAsync(context, new WorkloadLease("reporting", WorkloadRejectionReason.RateLimited, TimeSpan.FromSeconds(seconds))).WithTimeout();

        Assert.Equal(header, context.Response.Headers.RetryAfter);
    }

    [Theory]
    [InlineData(WorkloadRejectionReason.QueueFull, "its queue was full (QueueLimit 7)")]
    [InlineData(WorkloadRejectionReason.QueueTimeout, "no seat freed within its QueueTimeout (00:00:02)")]
    [InlineData(WorkloadRejectionReason.RateLimited, "its RateLimit (2.5 per second, burst 5, per partition)")]
    [InlineData(WorkloadRejectionReason.ShuttingDown, "the host is stopping")]
    [InlineData(WorkloadRejectionReason.Shed, "the process is under pressure (its Shed: CpuAbove 0.8, MemoryAbove 0.9)")]
    public async Task WriteAsync_WithDetails_SaysWhichLimitRefusedTheRequest_InTheBodyAndTheLog(WorkloadRejectionReason reason, string limit)
    {
        var configuration = new WorkloadIsolationOptions { DefaultClass = "reporting" }.AddClass("reporting", c =>
        {
            c.QueueLimit = 7;
            c.QueueTimeout = TimeSpan.FromSeconds(2);
            c.RateLimit = new WorkloadRateLimitOptions { PermitsPerSecond = 2.5, Burst = 5, PerPartition = true };
            c.Shed = new WorkloadShedOptions { CpuAbove = 0.8, MemoryAbove = 0.9 };
        });
        var logs = new ListLoggerProvider();
        DefaultHttpContext context = NewContext();
        context.Response.Body = new MemoryStream();

        await new RejectionWriter(new() { IncludeRejectionDetails = true }, logs.CreateLogger("test"), () => configuration)
            .WriteAsync(context, new WorkloadLease("reporting", reason, null)).WithTimeout();

        context.Response.Body.Position = 0;
        string body = await new StreamReader(context.Response.Body).ReadToEndAsync();
        Assert.Contains($"\"limit\":\"{limit}\"", body, StringComparison.Ordinal);
        Assert.Contains(logs.Messages, m => m.Message == $"Workload class 'reporting' rejected a request: {reason}, {limit}.");
    }

    [Theory]
    [InlineData(WorkloadRejectionReason.QueueFull, 1.0, "0HN7A:00000001", 503, """{"type":"https://tools.ietf.org/html/rfc9110#section-15.6.4","title":"Service busy","status":503,"detail":"Retry after 1 s.","traceId":"0HN7A:00000001","retryAfter":1}""")]
    [InlineData(WorkloadRejectionReason.RateLimited, 6.5, "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", 429, """{"type":"https://tools.ietf.org/html/rfc6585#section-4","title":"Too many requests","status":429,"detail":"Retry after 7 s.","traceId":"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01","retryAfter":7}""")]
    [InlineData(WorkloadRejectionReason.WeightTooLarge, null, "0HN7A:00000002", 503, """{"type":"https://tools.ietf.org/html/rfc9110#section-15.6.4","title":"Service busy","status":503,"detail":"Retrying cannot help.","traceId":"0HN7A:00000002"}""")]
    [InlineData(WorkloadRejectionReason.QueueFull, 300.0, "0HN7A:00000003", 503, """{"type":"https://tools.ietf.org/html/rfc9110#section-15.6.4","title":"Service busy","status":503,"detail":"Retry after 300 s.","traceId":"0HN7A:00000003","retryAfter":300}""")]
    [InlineData(WorkloadRejectionReason.QueueFull, 1.0, "a\"b<c", 503, """{"type":"https://tools.ietf.org/html/rfc9110#section-15.6.4","title":"Service busy","status":503,"detail":"Retry after 1 s.","traceId":"a\u0022b\u003Cc","retryAfter":1}""")]
    public async Task WriteAsync_DefaultBody_IsTheProblemDetailsJson_WithItsLength_WhateverTheTraceId(WorkloadRejectionReason reason, double? retryAfter, string traceId, int status, string expected)
    {
        // Bodies made once and copied, for every status and Retry-After kept; written afresh past them or for a traceId to escape.
        for (int i = 0; i < 2; i++)
        {
            DefaultHttpContext context = NewContext();
            context.TraceIdentifier = traceId;

            await new RejectionWriter(new(), NullLogger.Instance).WriteAsync(context, new WorkloadLease("reporting", reason, retryAfter is { } s ? TimeSpan.FromSeconds(s) : null)).WithTimeout();

            context.Response.Body.Position = 0;
            string body = await new StreamReader(context.Response.Body).ReadToEndAsync();
            Assert.Equal(expected, body);
            Assert.Equal(status, context.Response.StatusCode);
            Assert.Equal("application/problem+json", context.Response.ContentType);
            Assert.True(context.Response.ContentLength is null || context.Response.ContentLength == body.Length);
        }
    }

    [Fact]
    public void DescribeLimit_NoQueue_AndAnUnknownClass()
    {
        var configuration = new WorkloadIsolationOptions { DefaultClass = "reporting" }.AddClass("reporting", c => c.QueueLimit = 0);

        Assert.Equal("no seat was free and it queues nothing (QueueLimit 0)", RejectionWriter.DescribeLimit(configuration, "reporting", WorkloadRejectionReason.QueueFull));
        Assert.Equal("its limits", RejectionWriter.DescribeLimit(configuration, "gone", WorkloadRejectionReason.QueueFull));
        Assert.Equal("its rate limiter", RejectionWriter.DescribeLimit(configuration, "reporting", WorkloadRejectionReason.RateLimited));
    }

    [Fact]
    public void DescribeLimit_FleetWideLimits_SaysTheyHoldAcrossEveryReplica()
    {
        var configuration = new WorkloadIsolationOptions()
            .AddClass("reporting", c =>
            {
                c.Fleet = new() { MaxConcurrency = 8, RateLimit = new() { PermitsPerSecond = 50, PerPartition = true } };
            })
            .AddClass("caps", c => c.Fleet = new() { MaxConcurrencyPerPartition = 2 });

        Assert.Equal("its fleet-wide limits (RateLimit 50 per second per partition, MaxConcurrency 8, across every replica)", RejectionWriter.DescribeLimit(configuration, "reporting", WorkloadRejectionReason.RateLimited));
        Assert.Equal("its fleet-wide limits (MaxConcurrencyPerPartition 2, across every replica)", RejectionWriter.DescribeLimit(configuration, "caps", WorkloadRejectionReason.RateLimited));
    }

    [Fact]
    public async Task WriteAsync_ResponseAlreadyStarted_WritesNothing()
    {
        var response = new StartedResponseFeature();
        DefaultHttpContext context = NewContext();
        context.Features.Set<Microsoft.AspNetCore.Http.Features.IHttpResponseFeature>(response);

        await new RejectionWriter(new(), NullLogger.Instance).WriteAsync(context, new WorkloadLease("reporting", WorkloadRejectionReason.QueueFull, null)).WithTimeout();

        Assert.Equal(200, response.StatusCode);
        Assert.False(response.Headers.ContainsKey("Retry-After"));
    }

    [Fact]
    public async Task WriteAsync_ProblemDetailsServiceRegistered_ItsCustomizationsApply()
    {
        ServiceProvider services = new ServiceCollection().AddLogging()
            .AddProblemDetails(o => o.CustomizeProblemDetails = c => c.ProblemDetails.Extensions["traceTag"] = "custom")
            .BuildServiceProvider();
        var context = new DefaultHttpContext { RequestServices = services, Response = { Body = new MemoryStream() } };

        await new RejectionWriter(new() { IncludeRejectionDetails = true }, NullLogger.Instance, problemDetails: services.GetRequiredService<IProblemDetailsService>())
            .WriteAsync(context, new WorkloadLease("reporting", WorkloadRejectionReason.QueueFull, null)).WithTimeout();

        context.Response.Body.Position = 0;
        string body = new StreamReader(context.Response.Body).ReadToEnd();
        Assert.Contains("\"traceTag\":\"custom\"", body, StringComparison.Ordinal);
        Assert.Contains("\"workloadClass\":\"reporting\"", body, StringComparison.Ordinal);
        Assert.Contains("\"reason\":\"QueueFull\"", body, StringComparison.Ordinal);
        Assert.Equal(503, context.Response.StatusCode);
    }

    private static DefaultHttpContext NewContext() => new()
    {
        RequestServices = new ServiceCollection().AddLogging().BuildServiceProvider(),
        Response = { Body = new MemoryStream() },
    };

    private sealed class StartedResponseFeature : Microsoft.AspNetCore.Http.Features.HttpResponseFeature
    {
        public override bool HasStarted => true;
    }
}
