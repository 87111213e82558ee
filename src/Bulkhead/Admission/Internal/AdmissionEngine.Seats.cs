using System.Runtime.CompilerServices;

namespace Bulkhead.Admission.Internal;

/// <summary>
/// The seat primitives: taking and freeing seats of a class and of the shared pool by atomic operations on the class's
/// seat word and the pool's count, with or without the lock.
/// </summary>
internal sealed partial class AdmissionEngine
{
    /// <summary>
    /// Takes a seat without the lock when no waiter could be overtaken by doing so.
    /// </summary>
    private bool TryTakeSeatFast(ClassState c, ClassLimits limits)
    {
        // Seats counted per partition change under the lock only.
        if (Volatile.Read(ref c.Gate) != 0 || limits.LimitsPartitions)
        {
            return false;
        }

        SeatKind kind = TryTakeSeat(c, limits, allowShared: limits.Priority < Volatile.Read(ref _minWaitingPriority), underLock: false);
        if (kind == SeatKind.None)
        {
            return false;
        }

        // A waiter that published itself while this seat was being taken found no seat, so it came first: give the
        // seat back and take the slow path, which queues behind it or hands the seat to it.
        if (Volatile.Read(ref c.Gate) == 0 && (kind == SeatKind.Reserved || limits.Priority < Volatile.Read(ref _minWaitingPriority)))
        {
            return true;
        }

        UndoTake(c);
        return false;
    }

    /// <summary>
    /// Takes a seat of a class if the seat rule allows: a reserved seat while the class is below its reservation,
    /// else, when <paramref name="allowShared"/>, a shared seat while the pool has one and the class is below its maximum.
    /// Without the lock it refuses when the limits are being replaced or when the admission count would wrap (the
    /// lock carries it), so that the caller takes the slow path.
    /// </summary>
    /// <remarks>
    /// The limits may be read before or after the word: either way the word's generation must match them, and the
    /// compare-and-swap succeeds only on the word that was checked, before any reconfiguration moved it.
    /// </remarks>
    private SeatKind TryTakeSeat(ClassState c, ClassLimits limits, bool allowShared, bool underLock)
    {
        long word = Volatile.Read(ref c.SeatWord);
        while (true)
        {
            if (!MayTake(word, limits, underLock))
            {
                return SeatKind.None;
            }

            int inFlight = ClassState.SeatsOf(word);
            if (inFlight < ClassState.ReservedOf(word))
            {
                long seen = Interlocked.CompareExchange(ref c.SeatWord, word + ClassState.TakeIncrement, word);
                if (seen == word)
                {
                    CarryAdmitted(c, word);
                    return SeatKind.Reserved;
                }

                word = seen;
                continue;
            }

            if (!allowShared || !TryClaimSharedSeat(limits.Pool))
            {
                return SeatKind.None;
            }

            if (!underLock)
            {
                AfterSharedClaimForTest?.Invoke();
            }

            // The shared seat is claimed; now move the class's count, or hand the claim back.
            while (true)
            {
                if (!MayTake(word, limits, underLock))
                {
                    HandBackSharedClaim(underLock);
                    return SeatKind.None;
                }

                long seen = Interlocked.CompareExchange(ref c.SeatWord, word + ClassState.TakeIncrement, word);
                if (seen == word)
                {
                    CarryAdmitted(c, word);
                    if (ClassState.SeatsOf(word) < ClassState.ReservedOf(word))
                    {
                        // A reserved seat freed meanwhile and this admission took it: the shared claim is not needed.
                        HandBackSharedClaim(underLock);
                        return SeatKind.Reserved;
                    }

                    return SeatKind.Shared;
                }

                word = seen;
            }
        }
    }

    /// <summary>
    /// Takes <paramref name="seats"/> seats of a class at once, under the lock, if the seat rule allows them all: the
    /// class stays within its maximum, and the seats above its reservation are claimed from the pool together (only
    /// when <paramref name="allowShared"/>). Lock-free takers and releasers of single seats may move the word meanwhile:
    /// the claim is handed back and the count read again.
    /// </summary>
    private SeatKind TryTakeSeats(ClassState c, ClassLimits limits, int seats, bool allowShared)
    {
        if (seats == 1)
        {
            return TryTakeSeat(c, limits, allowShared, underLock: true);
        }

        long word = Volatile.Read(ref c.SeatWord);
        while (true)
        {
            int inFlight = ClassState.SeatsOf(word);
            if (inFlight + seats > limits.Max || (word & ClassState.GenerationBits) != limits.GenerationBits)
            {
                return SeatKind.None;
            }

            int reserved = ClassState.ReservedOf(word);
            int shared = Math.Max(0, inFlight + seats - reserved) - Math.Max(0, inFlight - reserved);
            if (shared > 0 && (!allowShared || !TryClaimSharedSeats(limits.Pool, shared)))
            {
                return SeatKind.None;
            }

            long seen = Interlocked.CompareExchange(ref c.SeatWord, word + seats + ClassState.AdmittedUnit, word);
            if (seen == word)
            {
                CarryAdmitted(c, word);
                return shared > 0 ? SeatKind.Shared : SeatKind.Reserved;
            }

            if (shared > 0)
            {
                Interlocked.Add(ref _sharedInUse, -shared);
            }

            word = seen;
        }
    }

    /// <summary>Whether a class's head waiter fits under the class's maximum: then only the shared pool may hold it back.</summary>
    private static bool FitsUnderMax(ClassState c, Waiter head)
    {
        ClassLimits limits = c.Limits;
        return c.InFlight + limits.SeatsFor(head.Weight) <= limits.Max;
    }

    private bool TryClaimSharedSeats(int pool, int seats)
    {
        int inUse = Volatile.Read(ref _sharedInUse);
        while (inUse + seats <= pool)
        {
            int seen = Interlocked.CompareExchange(ref _sharedInUse, inUse + seats, inUse);
            if (seen == inUse)
            {
                return true;
            }

            inUse = seen;
        }

        return false;
    }

    /// <summary>
    /// Gives back a shared seat claimed but not used. A waiter may have found the pool full because of the claim, and
    /// nothing else may come to wake it: without the lock, look for waiters as a release does.
    /// </summary>
    private void HandBackSharedClaim(bool underLock)
    {
        Interlocked.Decrement(ref _sharedInUse);
        if (!underLock)
        {
            Pump();
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool MayTake(long word, ClassLimits limits, bool underLock) =>
        ClassState.SeatsOf(word) < limits.Max
        && (word & ClassState.GenerationBits) == limits.GenerationBits
        && (underLock || (ulong)word < ClassState.AdmittedWrapsNext);

    /// <summary>Carries the admission count out of the seat word when it wraps; only lock holders let it wrap.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void CarryAdmitted(ClassState c, long before)
    {
        if (ClassState.AdmittedLowOf(before) == ClassState.AdmittedLowMax)
        {
            c.AdmittedHigh++;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private bool TryClaimSharedSeat(int pool)
    {
        int inUse = Volatile.Read(ref _sharedInUse);
        while (inUse < pool)
        {
            int seen = Interlocked.CompareExchange(ref _sharedInUse, inUse + 1, inUse);
            if (seen == inUse)
            {
                return true;
            }

            inUse = seen;
        }

        return false;
    }

    /// <summary>Frees one seat: the class's count, and the shared seat when the class was above its reservation.</summary>
    private void FreeSeat(ClassState c)
    {
        long before = Interlocked.Add(ref c.SeatWord, -1) + 1;
        if (ClassState.SeatsOf(before) > ClassState.ReservedOf(before))
        {
            Interlocked.Decrement(ref _sharedInUse);
        }
    }

    /// <summary>Frees several seats of one unit of work: the class's count, and the shared seats among them.</summary>
    private void FreeSeats(ClassState c, int seats)
    {
        if (seats == 1)
        {
            FreeSeat(c);
            return;
        }

        long before = Interlocked.Add(ref c.SeatWord, -seats) + seats;
        int inFlight = ClassState.SeatsOf(before);
        int reserved = ClassState.ReservedOf(before);
        int shared = Math.Max(0, inFlight - reserved) - Math.Max(0, inFlight - seats - reserved);
        if (shared > 0)
        {
            Interlocked.Add(ref _sharedInUse, -shared);
        }
    }

    /// <summary>Gives back a seat the fast path took and may not keep, uncounting its admission.</summary>
    private void UndoTake(ClassState c)
    {
        long word = Volatile.Read(ref c.SeatWord);
        while (ClassState.AdmittedLowOf(word) != 0)
        {
            long seen = Interlocked.CompareExchange(ref c.SeatWord, word - ClassState.TakeIncrement, word);
            if (seen == word)
            {
                UnclaimShared(word);
                Pump();
                return;
            }

            word = seen;
        }

        // The count wrapped since the seat was taken (a lock holder carried it): borrow it back under the lock.
        Waiter? completions = null;
        lock (_lock)
        {
            word = Interlocked.Add(ref c.SeatWord, -ClassState.TakeIncrement) + ClassState.TakeIncrement;
            if (ClassState.AdmittedLowOf(word) == 0)
            {
                c.AdmittedHigh--;
            }

            UnclaimShared(word);
            PumpUnsynchronized(ref completions);
        }

        Complete(completions);
    }

    private void UnclaimShared(long before)
    {
        if (ClassState.SeatsOf(before) > ClassState.ReservedOf(before))
        {
            Interlocked.Decrement(ref _sharedInUse);
        }
    }

    private void Pump()
    {
        if (Volatile.Read(ref _minWaitingPriority) == NoWaiters)
        {
            return;
        }

        Waiter? completions = null;
        lock (_lock)
        {
            PumpUnsynchronized(ref completions);
        }

        Complete(completions);
    }
}
