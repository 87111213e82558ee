namespace Bulkhead.Redis.Internal;

/// <summary>Where a lease gives its seat back: a fleet semaphore's stock, or the local share's count.</summary>
internal interface ISeatHolder
{
    void Release();
}
