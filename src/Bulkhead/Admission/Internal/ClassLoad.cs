namespace Bulkhead.Admission.Internal;

/// <summary>A class's load at one moment, read under the engine's lock: admissions since start, waiters, seats in use and the limit in force.</summary>
internal readonly record struct ClassLoad(long Admitted, int Queued, int InFlight, int MaxConcurrency);
