using Bulkhead.Admission.Internal;

namespace Bulkhead;

/// <summary>
/// The outcome of asking for a seat of a workload class: either a held seat, freed when the lease is disposed, or a
/// rejection with its reason.
/// </summary>
/// <remarks>
/// Disposing an acquired lease frees its seat exactly once, whatever copy of the lease is disposed and however often;
/// disposing a rejected or default lease does nothing. Acquiring a lease allocates nothing when a seat is free.
/// </remarks>
public readonly struct WorkloadLease : IDisposable, IEquatable<WorkloadLease>
{
    // A rejection packs its reason into the low bits of _data and its retry-after ticks (or -1) above them;
    // an acquired lease keeps its ticket version there. Three words, so leases stay cheap to return and copy.
    private const int ReasonBits = 3;
    private const long NoRetryAfter = -1;

    private readonly LeaseTicket? _ticket;
    private readonly string? _workloadClass;
    private readonly long _data;

    internal WorkloadLease(LeaseTicket ticket, int version, string workloadClass)
    {
        _ticket = ticket;
        _workloadClass = workloadClass;
        _data = version;
    }

    internal WorkloadLease(string workloadClass, WorkloadRejectionReason reason, TimeSpan? retryAfter)
    {
        _workloadClass = workloadClass;
        long ticks = retryAfter is { } delay ? Math.Clamp(delay.Ticks, 0, long.MaxValue >> ReasonBits) : NoRetryAfter;
        _data = (ticks << ReasonBits) | (long)reason;
    }

    /// <summary>Gets a value indicating whether the lease holds a seat.</summary>
    public bool IsAcquired => _ticket is not null;

    /// <summary>Gets the name of the workload class the lease was asked of.</summary>
    public string WorkloadClass => _workloadClass ?? string.Empty;

    /// <summary>
    /// Gets why the work was rejected, or <see langword="null"/> when the lease is acquired or is the default lease.
    /// </summary>
    public WorkloadRejectionReason? RejectionReason =>
        _ticket is null && _workloadClass is not null ? (WorkloadRejectionReason)(_data & ((1 << ReasonBits) - 1)) : null;

    /// <summary>
    /// Gets when it makes sense to try again after a rejection, or <see langword="null"/> when no estimate is known.
    /// </summary>
    public TimeSpan? RetryAfter => _ticket is not null || _workloadClass is null || (_data >> ReasonBits) == NoRetryAfter
        ? null
        : TimeSpan.FromTicks(_data >> ReasonBits);

    /// <summary>Gets the class whose seat this lease holds, while it holds one.</summary>
    internal ClassState? HolderClass => _ticket?.ClassOf((int)_data);

    /// <summary>Gets a value indicating whether the seat was granted while more of its partition's work waited behind it.</summary>
    internal bool IsBacklogged => _ticket?.IsBacklogged((int)_data) ?? false;

    /// <summary>Has an acquired lease tell <paramref name="observer"/> how long it held its seats, for <paramref name="key"/>.</summary>
    internal void TimeFor(SeatTimeObserver observer, string key) => _ticket?.TimeFor((int)_data, observer, key);

    /// <summary>Determines whether two leases are the same lease.</summary>
    /// <param name="left">A lease.</param>
    /// <param name="right">Another lease.</param>
    /// <returns><see langword="true"/> when both are the same lease.</returns>
    public static bool operator ==(WorkloadLease left, WorkloadLease right) => left.Equals(right);

    /// <summary>Determines whether two leases are different leases.</summary>
    /// <param name="left">A lease.</param>
    /// <param name="right">Another lease.</param>
    /// <returns><see langword="true"/> when the leases differ.</returns>
    public static bool operator !=(WorkloadLease left, WorkloadLease right) => !left.Equals(right);

    /// <summary>
    /// Frees the lease's seat, once; later calls, and calls on copies of this lease, do nothing.
    /// </summary>
    public void Dispose() => _ticket?.Release((int)_data);

    /// <inheritdoc />
    public bool Equals(WorkloadLease other) =>
        ReferenceEquals(_ticket, other._ticket) && _data == other._data
        && string.Equals(_workloadClass, other._workloadClass, StringComparison.Ordinal);

    /// <inheritdoc />
    public override bool Equals(object? obj) => obj is WorkloadLease other && Equals(other);

    /// <inheritdoc />
    public override int GetHashCode() => HashCode.Combine(_ticket, _data, _workloadClass);

    /// <inheritdoc />
    public override string ToString() =>
        IsAcquired ? $"Acquired ({WorkloadClass})" : _workloadClass is null ? "Empty" : $"Rejected ({WorkloadClass}: {RejectionReason})";
}
