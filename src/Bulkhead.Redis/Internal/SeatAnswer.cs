namespace Bulkhead.Redis.Internal;

/// <summary>What Redis says of a fleet semaphore after moving a holder's seats.</summary>
/// <param name="Held">The seats the holder holds now.</param>
/// <param name="Holders">How many holders hold seats.</param>
/// <param name="Wanting">How many other holders were refused seats lately.</param>
/// <param name="Epoch">The semaphore's epoch: it changes when Redis lost the semaphore's state.</param>
internal readonly record struct SeatAnswer(int Held, int Holders, int Wanting, string Epoch);
