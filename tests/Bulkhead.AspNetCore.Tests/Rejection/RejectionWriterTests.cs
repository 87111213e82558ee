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
    public async Task WriteAsync_WithDetails_SaysWhichLimitRefusedTheRequest_InTheBodyAndTheLog(WorkloadRejectionReason reason, string limit)
    {
        var configuration = new WorkloadIsolationOptions { DefaultClass = "reporting" }.AddClass("reporting", c =>
        {
            c.QueueLimit = 7;
            c.QueueTimeout = TimeSpan.FromSeconds(2);
            c.RateLimit = new WorkloadRateLimitOptions { PermitsPerSecond = 2.5, Burst = 5, PerPartition = true };
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
        var context = new DefaultHttpContext
        {
            RequestServices = new ServiceCollection().AddLogging()
                .AddProblemDetails(o => o.CustomizeProblemDetails = c => c.ProblemDetails.Extensions["traceTag"] = "custom")
                .BuildServiceProvider(),
            Response = { Body = new MemoryStream() },
        };

        await new RejectionWriter(new() { IncludeRejectionDetails = true }, NullLogger.Instance).WriteAsync(context, new WorkloadLease("reporting", WorkloadRejectionReason.QueueFull, null)).WithTimeout();

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
