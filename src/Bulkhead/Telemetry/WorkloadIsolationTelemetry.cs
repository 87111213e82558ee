namespace Bulkhead;

/// <summary>
/// Names under which Bulkhead reports, for telemetry pipelines: <c>.AddMeter(WorkloadIsolationTelemetry.MeterName)</c>
/// with OpenTelemetry, or <c>dotnet-counters monitor --counters Bulkhead</c>.
/// </summary>
public static class WorkloadIsolationTelemetry
{
    /// <summary>The name of the <see cref="System.Diagnostics.Metrics.Meter"/> every Bulkhead instrument belongs to.</summary>
    public const string MeterName = "Bulkhead";
}
