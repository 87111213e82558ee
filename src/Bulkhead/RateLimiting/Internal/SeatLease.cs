using System.Threading.RateLimiting;

namespace Bulkhead.RateLimiting.Internal;

/// <summary>
/// A workload lease seen as a platform <see cref="RateLimitLease"/>: disposing it frees the seat; a refusal carries
/// its retry-after and a reason phrase naming the class and the reason.
/// </summary>
internal sealed class SeatLease(WorkloadLease lease) : RateLimitLease
{
    private static readonly string[] s_refusalMetadata = [MetadataName.RetryAfter.Name, MetadataName.ReasonPhrase.Name];
    private static readonly string[] s_reasonOnly = [MetadataName.ReasonPhrase.Name];

    private readonly WorkloadLease _lease = lease;

    public override bool IsAcquired => _lease.IsAcquired;

    public override IEnumerable<string> MetadataNames => _lease.IsAcquired ? [] : _lease.RetryAfter is null ? s_reasonOnly : s_refusalMetadata;

    public override bool TryGetMetadata(string metadataName, out object? metadata)
    {
        if (!_lease.IsAcquired && metadataName == MetadataName.RetryAfter.Name && _lease.RetryAfter is { } retryAfter)
        {
            metadata = retryAfter;
            return true;
        }

        if (!_lease.IsAcquired && metadataName == MetadataName.ReasonPhrase.Name && _lease.RejectionReason is { } reason)
        {
            metadata = $"Workload class '{_lease.WorkloadClass}' refused it: {reason}";
            return true;
        }

        metadata = null;
        return false;
    }

    protected override void Dispose(bool disposing)
    {
        // The workload lease frees its seat once, however often it is disposed.
        _lease.Dispose();
        base.Dispose(disposing);
    }
}
