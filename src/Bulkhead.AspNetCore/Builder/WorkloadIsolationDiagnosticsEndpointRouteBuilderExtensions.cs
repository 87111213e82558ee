using System.Diagnostics.CodeAnalysis;
using Bulkhead.Admission.Internal;
using Bulkhead.AspNetCore.Diagnostics.Internal;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace Microsoft.AspNetCore.Builder;

/// <summary>
/// Maps Bulkhead's diagnostics: the snapshot as JSON and a live dashboard.
/// </summary>
public static class WorkloadIsolationDiagnosticsEndpointRouteBuilderExtensions
{
    /// <summary>
    /// Maps <c>GET {pattern}</c>, a self-contained HTML dashboard (no script, style or font from anywhere else) that shows
    /// each class's seats, queue, admissions and rejections per second, queue-wait and seat-time p99, and charts of the
    /// last 15 minutes, refreshing itself every second; <c>GET {pattern}/snapshot</c>,
    /// <see cref="Bulkhead.IWorkloadScheduler.GetSnapshot"/> as JSON; and <c>GET {pattern}/history</c>, the last 15 minutes
    /// in 5-second samples as JSON. Mapping them starts the history: from then on the process keeps it (a few kilobytes per
    /// class) and every class measures its queue waits and the seat-holding time of one lease in 16, so that a page opened
    /// during an incident shows what led to it. Opt-in: nothing is mapped or kept unless you call this. The endpoints
    /// are exempt from workload isolation (they answer while every class is full) and left out of OpenAPI documents;
    /// they expose class names and traffic figures, so protect them as any operational endpoint, for example with
    /// <c>.RequireAuthorization("ops")</c> or <c>.RequireHost(...)</c> on the builder this returns.
    /// </summary>
    /// <param name="endpoints">The endpoint route builder.</param>
    /// <param name="pattern">Where to map the dashboard; the snapshot is under it. Defaults to <c>/_bulkhead</c>.</param>
    /// <returns>A builder for both endpoints, to add conventions such as authorization.</returns>
    public static IEndpointConventionBuilder MapWorkloadIsolationDiagnostics(this IEndpointRouteBuilder endpoints, [StringSyntax("Route")] string pattern = "/_bulkhead")
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        ArgumentNullException.ThrowIfNull(pattern);

        WorkloadScheduler scheduler = endpoints.ServiceProvider.GetService<WorkloadScheduler>()
            ?? throw new InvalidOperationException(
                "Unable to find the required services. Add them by calling 'IServiceCollection.AddWorkloadIsolation' in the application startup code.");
        scheduler.History.Start();

        RouteGroupBuilder group = endpoints.MapGroup(pattern);
        group.MapGet(string.Empty, DiagnosticsEndpoints.WriteDashboardAsync).WithDisplayName("Bulkhead dashboard");
        group.MapGet("/snapshot", DiagnosticsEndpoints.WriteSnapshotAsync).WithDisplayName("Bulkhead snapshot");
        group.MapGet("/history", context => DiagnosticsEndpoints.WriteHistoryAsync(context, scheduler.History)).WithDisplayName("Bulkhead history");
        group.DisableWorkloadIsolation().ExcludeFromDescription();
        return group;
    }
}
