using System.Text.Json;
using System.Text.Json.Serialization;

namespace Bulkhead.Telemetry.Internal;

/// <summary>The snapshot as JSON, by the source generator: nothing for the trimmer to keep, nothing reflected at run time.</summary>
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, UseStringEnumConverter = true)]
[JsonSerializable(typeof(WorkloadSnapshot))]
[JsonSerializable(typeof(IReadOnlyList<WorkloadClassSnapshot>))]
internal sealed partial class SnapshotJsonContext : JsonSerializerContext
{
}
