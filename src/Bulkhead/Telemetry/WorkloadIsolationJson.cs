using System.Text.Json.Serialization.Metadata;
using Bulkhead.Telemetry.Internal;

namespace Bulkhead;

/// <summary>
/// The JSON contract of the snapshot, source-generated: web defaults (camelCase names), enums as strings, the JSON the
/// diagnostics endpoint serves. With it in the app's resolver chain, an endpoint that returns
/// <see cref="IWorkloadScheduler.GetSnapshot"/> (or its <see cref="WorkloadSnapshot.Classes"/>) works under trimming and
/// Native AOT: <c>builder.Services.ConfigureHttpJsonOptions(o => o.SerializerOptions.TypeInfoResolverChain.Add(WorkloadIsolationJson.TypeInfoResolver))</c>.
/// </summary>
public static class WorkloadIsolationJson
{
    /// <summary>Gets the resolver of the snapshot's types (<see cref="WorkloadSnapshot"/> and the list of its classes).</summary>
    public static IJsonTypeInfoResolver TypeInfoResolver => SnapshotJsonContext.Default;

    /// <summary>Gets the contract of the whole snapshot.</summary>
    public static JsonTypeInfo<WorkloadSnapshot> Snapshot => SnapshotJsonContext.Default.WorkloadSnapshot;
}
