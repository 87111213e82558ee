using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;
using Bulkhead.Execution.Internal;

namespace Bulkhead.Admission.Internal;

/// <summary>
/// The one place where work holding a seat starts: where the class's <see cref="Placement"/> says (the calling thread,
/// its dedicated threads, under its execution timeout), freeing the seat when the work ends.
/// </summary>
internal sealed partial class ClassState
{
    /// <summary>Gets where and under what watch this class's work runs; chosen whenever its limits change.</summary>
    public ExecutionPlacement Placement => _placement;

    /// <inheritdoc />
    public override Task ExecuteAsync(WorkloadLease lease, Func<object?, CancellationToken, Task> work, object? state, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(work);
        ThrowIfNotAcquired(lease);
        return _placement.RunAsync(lease, work, state, cancellationToken);
    }

    /// <inheritdoc />
    public override Task<TResult> ExecuteAsync<TResult>(WorkloadLease lease, Func<object?, CancellationToken, Task<TResult>> work, object? state, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(work);
        ThrowIfNotAcquired(lease);
        return _placement.RunAsync(lease, work, state, cancellationToken);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void ThrowIfNotAcquired(in WorkloadLease lease)
    {
        if (!lease.IsAcquired)
        {
            ThrowNotAcquired();
        }
    }

    [DoesNotReturn]
    private static void ThrowNotAcquired() =>
        throw new ArgumentException("The lease holds no seat: only an acquired lease can run work.", "lease");
}
