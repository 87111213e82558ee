namespace Bulkhead.Admission.Internal;

/// <summary>
/// A feature that learns from how long a class's leases hold their seats (an objective, the metrics and the history, the
/// learned weight). Observers register in <see cref="SeatTimeObservers"/>; a class builds its list whenever its limits
/// change, a lease asks each at issue whether it is to be timed, and tells those that said yes when it ends.
/// </summary>
internal abstract class SeatTimeObserver
{
    /// <summary>
    /// Whether the lease being issued is to be timed for this observer; called on the acquiring thread, so cheap.
    /// An observer that answers <see langword="false"/> can still have one lease timed, when its request asks for it
    /// (<see cref="WorkloadLease.TimeFor"/>).
    /// </summary>
    public virtual bool Times(ClassState owner) => true;

    /// <summary>A lease timed for this observer held its seats for <paramref name="held"/>; <paramref name="key"/> is what its request named, if anything.</summary>
    public abstract void Record(ClassState owner, TimeSpan held, string? key);
}
