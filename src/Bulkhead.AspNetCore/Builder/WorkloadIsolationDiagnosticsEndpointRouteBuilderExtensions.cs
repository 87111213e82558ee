using System.Diagnostics.CodeAnalysis;
using Bulkhead.AspNetCore.Diagnostics.Internal;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Microsoft.AspNetCore.Builder;

/// <summary>
/// Maps Bulkhead's diagnostics: the snapshot as JSON and a live dashboard.
/// </summary>
public static class WorkloadIsolationDiagnosticsEndpointRouteBuilderExtensions
{
    /// <summary>
    /// Maps <c>GET {pattern}</c>, a self-contained HTML dashboard (no script, style or font from anywhere else) that shows
    /// each class's seats, queue, rejections and the last two minutes, refreshing itself every second; and
    /// <c>GET {pattern}/snapshot</c>, <see cref="Bulkhead.IWorkloadScheduler.GetSnapshot"/> as JSON. Opt-in: nothing is mapped
    /// unless you call this. The endpoints are exempt from workload isolation (they answer while every class is full)
    /// and left out of OpenAPI documents; they expose class names and traffic figures, so protect them as any
    /// operational endpoint, for example with <c>.RequireAuthorization("ops")</c> or <c>.RequireHost(...)</c> on the
    /// builder this returns.
    /// </summary>
    /// <param name="endpoints">The endpoint route builder.</param>
    /// <param name="pattern">Where to map the dashboard; the snapshot is under it. Defaults to <c>/_bulkhead</c>.</param>
    /// <returns>A builder for both endpoints, to add conventions such as authorization.</returns>
    public static IEndpointConventionBuilder MapWorkloadIsolationDiagnostics(this IEndpointRouteBuilder endpoints, [StringSyntax("Route")] string pattern = "/_bulkhead")
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        ArgumentNullException.ThrowIfNull(pattern);

        RouteGroupBuilder group = endpoints.MapGroup(pattern);
        group.MapGet(string.Empty, DiagnosticsEndpoints.WriteDashboardAsync).WithDisplayName("Bulkhead dashboard");
        group.MapGet("/snapshot", DiagnosticsEndpoints.WriteSnapshotAsync).WithDisplayName("Bulkhead snapshot");
        group.DisableWorkloadIsolation().ExcludeFromDescription();
        return group;
    }
}
