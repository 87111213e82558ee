using System.Globalization;

namespace Bulkhead.Execution.Internal;

/// <summary>
/// Whether the runtime's ThreadPool workers spin before they sleep when they run out of work. They spin at normal
/// priority, so in a process whose CPU-heavy work runs on low-priority dedicated threads, every spin takes a core from
/// those threads (docs/jobs.md, "Let idle ThreadPool workers sleep").
/// </summary>
/// <remarks>
/// Read as the runtime reads it when the ThreadPool starts: the <c>DOTNET_</c> (or <c>COMPlus_</c>)
/// <c>ThreadPool_UnfairSemaphoreSpinLimit</c> environment variable, in hexadecimal, wins over the
/// <see cref="ConfigName"/> runtime configuration property; without either, workers spin.
/// </remarks>
internal static class ThreadPoolSpinning
{
    /// <summary>The runtime configuration property (runtimeconfig.json, <c>RuntimeHostConfigurationOption</c>).</summary>
    public const string ConfigName = "System.Threading.ThreadPool.UnfairSemaphoreSpinLimit";

    private const string EnvironmentName = "ThreadPool_UnfairSemaphoreSpinLimit";

    /// <summary>Gets a value indicating whether this process's ThreadPool workers spin before they sleep.</summary>
    public static bool IsOn() => IsOn(Environment.GetEnvironmentVariable, AppContext.GetData);

    /// <summary>Whether workers spin, given how to read an environment variable and a runtime configuration property.</summary>
    public static bool IsOn(Func<string, string?> environment, Func<string, object?> configuration)
    {
        string? text = environment("DOTNET_" + EnvironmentName) ?? environment("COMPlus_" + EnvironmentName);
        if (text is not null)
        {
            string digits = text.StartsWith("0x", StringComparison.Ordinal) ? text[2..] : text;
            if (uint.TryParse(digits, NumberStyles.HexNumber, CultureInfo.InvariantCulture, out uint fromEnvironment) && (int)fromEnvironment >= 0)
            {
                return fromEnvironment != 0;
            }
        }

        return configuration(ConfigName) switch
        {
            uint value => value != 0,
            int value => value != 0,
            string value => ParseConfiguration(value) != 0,
            _ => true,
        };
    }

    /// <summary>A configuration property's text as the runtime reads it: <c>0x</c> hexadecimal, a leading 0 octal, else decimal; the default (spinning) when it does not parse or is negative.</summary>
    private static long ParseConfiguration(string text)
    {
        try
        {
            long value = text.StartsWith("0x", StringComparison.Ordinal) ? Convert.ToInt32(text, 16)
                : text.StartsWith('0') ? Convert.ToInt32(text, 8)
                : int.Parse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture);
            return value < 0 ? 1 : value;
        }
        catch (Exception e) when (e is FormatException or OverflowException or ArgumentException)
        {
            return 1;
        }
    }
}
