using Microsoft.Extensions.Configuration;

namespace Bulkhead.TestUtils;

/// <summary>A configuration source whose whole content is replaced at once, as a file edit replaces it, and reloaded.</summary>
public sealed class SwappableConfigurationSource : IConfigurationSource
{
    /// <summary>Gets the provider whose content <see cref="SwappableConfigurationProvider.Swap"/> replaces.</summary>
    public SwappableConfigurationProvider Provider { get; } = new();

    /// <inheritdoc />
    public IConfigurationProvider Build(IConfigurationBuilder builder) => Provider;
}

/// <summary>The provider of a <see cref="SwappableConfigurationSource"/>.</summary>
public sealed class SwappableConfigurationProvider : ConfigurationProvider
{
    /// <summary>Replaces the whole content with <paramref name="from"/>'s and signals a reload.</summary>
    public void Swap(IConfigurationRoot from)
    {
        Data = new Dictionary<string, string?>(from.AsEnumerable(), StringComparer.OrdinalIgnoreCase);
        OnReload();
    }
}
