using System.Text.Json;
using Bulkhead.Telemetry.Internal;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Net.Http.Headers;

namespace Bulkhead.AspNetCore.Diagnostics.Internal;

/// <summary>What the diagnostics endpoints answer: the snapshot and the history as JSON, and the dashboard page that reads them.</summary>
internal static class DiagnosticsEndpoints
{
    private static readonly Lazy<byte[]> s_dashboard = new(() =>
    {
        using Stream stream = typeof(DiagnosticsEndpoints).Assembly.GetManifestResourceStream("Bulkhead.AspNetCore.Diagnostics.dashboard.html")
            ?? throw new InvalidOperationException("The dashboard page is missing from the assembly.");
        using var buffer = new MemoryStream();
        stream.CopyTo(buffer);
        return buffer.ToArray();
    });

    public static Task WriteSnapshotAsync(HttpContext context)
    {
        WorkloadSnapshot snapshot = context.RequestServices.GetRequiredService<IWorkloadScheduler>().GetSnapshot();
        context.Response.Headers.CacheControl = "no-store";
        return context.Response.WriteAsJsonAsync(snapshot, WorkloadIsolationJson.Snapshot, cancellationToken: context.RequestAborted);
    }

    public static async Task WriteHistoryAsync(HttpContext context, WorkloadHistory history)
    {
        HttpResponse response = context.Response;
        response.ContentType = "application/json; charset=utf-8";
        response.Headers.CacheControl = "no-store";
        await using var writer = new Utf8JsonWriter(response.BodyWriter);
        history.WriteTo(writer);
        await writer.FlushAsync(context.RequestAborted).ConfigureAwait(false);
    }

    public static Task WriteDashboardAsync(HttpContext context)
    {
        HttpResponse response = context.Response;
        response.ContentType = "text/html; charset=utf-8";
        response.Headers.CacheControl = "no-store";

        // The page is self-contained: it may load nothing from anywhere, and may only fetch from this host.
        response.Headers[HeaderNames.ContentSecurityPolicy] = "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src 'self' data:";
        response.Headers[HeaderNames.XContentTypeOptions] = "nosniff";
        byte[] page = s_dashboard.Value;
        response.ContentLength = page.Length;
        return response.Body.WriteAsync(page, context.RequestAborted).AsTask();
    }
}
