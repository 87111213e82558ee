using System.Runtime.CompilerServices;

namespace Bulkhead.Admission.Internal;

/// <summary>
/// Keeps lease tickets for reuse so that acquiring a seat allocates nothing: one ticket per thread without
/// synchronisation, then a small shared array (the shape of Microsoft.Extensions.ObjectPool's DefaultObjectPool).
/// </summary>
internal static class LeaseTicketPool
{
    [ThreadStatic]
    private static LeaseTicket? t_cached;

    private static readonly LeaseTicket?[] s_shared = new LeaseTicket?[Math.Clamp(Environment.ProcessorCount * 16, 32, 256)];

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static LeaseTicket Rent()
    {
        LeaseTicket? ticket = t_cached;
        if (ticket is not null)
        {
            t_cached = null;
            return ticket;
        }

        return RentShared();
    }

    private static LeaseTicket RentShared()
    {
        LeaseTicket?[] shared = s_shared;
        for (int i = 0; i < shared.Length; i++)
        {
            LeaseTicket? ticket = shared[i];
            if (ticket is not null && Interlocked.CompareExchange(ref shared[i], null, ticket) == ticket)
            {
                return ticket;
            }
        }

        return new LeaseTicket();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Return(LeaseTicket ticket)
    {
        if (t_cached is null)
        {
            t_cached = ticket;
            return;
        }

        ReturnShared(ticket);
    }

    private static void ReturnShared(LeaseTicket ticket)
    {
        LeaseTicket?[] shared = s_shared;
        for (int i = 0; i < shared.Length; i++)
        {
            if (shared[i] is null && Interlocked.CompareExchange(ref shared[i], ticket, null) is null)
            {
                return;
            }
        }

        // The pool is full: let the garbage collector have this one.
    }
}
