namespace Bulkhead.Redis.Internal;

/// <summary>What a fleet stock answered.</summary>
internal enum FleetAnswer
{
    Granted,
    Refused,
    Unavailable,
}
