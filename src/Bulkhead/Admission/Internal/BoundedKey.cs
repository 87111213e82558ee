using System.Globalization;

namespace Bulkhead.Admission.Internal;

/// <summary>
/// What Bulkhead keeps of a partition key or a cost key: the key itself up to <see cref="MaxLength"/> characters; a
/// longer one as its first <see cref="PrefixLength"/> characters, its length and a hash of the whole. Every store of
/// keys (partition queues, rate buckets, learned weights) keeps keys in this form, so what they hold is bounded in bytes
/// as well as in number: ten thousand distinct 8 KiB keys cost what ten thousand short ones do.
/// </summary>
/// <remarks>
/// Two long keys that share their prefix, their length and their hash share a partition. The hash is the runtime's
/// string hash, randomized per process, so a client cannot choose keys that collide.
/// </remarks>
internal static class BoundedKey
{
    /// <summary>The longest key kept as it is.</summary>
    public const int MaxLength = 256;

    /// <summary>How much of a longer key is kept before its length and hash.</summary>
    public const int PrefixLength = 64;

    /// <summary>Gets the key as it is stored; <see cref="string.Empty"/> for none.</summary>
    public static string For(string? key)
    {
        if (key is null)
        {
            return string.Empty;
        }

        return key.Length <= MaxLength ? key : Shorten(key);
    }

    private static string Shorten(string key) =>
        string.Create(CultureInfo.InvariantCulture, $"{key.AsSpan(0, PrefixLength)}…[{key.Length}#{key.GetHashCode():x8}]");
}
