namespace Bulkhead.Admission.Internal;

/// <summary>Which kind of seat an admission took.</summary>
internal enum SeatKind
{
    /// <summary>No seat was free to this class.</summary>
    None,

    /// <summary>One of the class's own reserved seats.</summary>
    Reserved,

    /// <summary>A seat of the shared pool.</summary>
    Shared,
}
