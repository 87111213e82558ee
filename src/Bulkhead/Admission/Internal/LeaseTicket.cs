using Bulkhead.Queuing.Internal;

namespace Bulkhead.Admission.Internal;

/// <summary>
/// The shared, pooled half of a <see cref="WorkloadLease"/>. A lease is a struct that users copy freely; the ticket's
/// version makes exactly one of all those copies free the seat, and makes a stale copy harmless once the ticket is reused.
/// </summary>
internal sealed class LeaseTicket
{
    private int _version;
    private ClassState? _class;
    private PartitionState? _partition;

    /// <summary>Issues a lease for a seat taken; <paramref name="partition"/> where the class counts seats per partition.</summary>
    public static WorkloadLease Issue(ClassState workloadClass, PartitionState? partition = null)
    {
        LeaseTicket ticket = LeaseTicketPool.Rent();
        ticket._class = workloadClass;
        ticket._partition = partition;
        return new WorkloadLease(ticket, Volatile.Read(ref ticket._version), workloadClass.Name);
    }

    public void Release(int version)
    {
        // Read the class before the version moves on: once it has, another acquirer may rent and rebind this ticket.
        ClassState? owner = Volatile.Read(ref _class);
        if (owner is null || Interlocked.CompareExchange(ref _version, version + 1, version) != version)
        {
            return;
        }

        PartitionState? partition = _partition;
        _class = null;
        _partition = null;
        LeaseTicketPool.Return(this);
        if (partition is null)
        {
            owner.Engine.ReleaseSeat(owner);
        }
        else
        {
            owner.Engine.ReleasePartitionSeat(owner, partition);
        }
    }
}
