using System.Net;
using System.Net.Sockets;

namespace Bulkhead.TestUtils;

/// <summary>What the servers tests start share: a free loopback port, and where a Debian package's binary is.</summary>
internal static class Binaries
{
    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>The binary named by <paramref name="variable"/>, else the first of <paramref name="knownPaths"/> that exists, else <see langword="null"/>.</summary>
    public static string? Find(string variable, string[] knownPaths)
    {
        string? configured = Environment.GetEnvironmentVariable(variable);
        return !string.IsNullOrEmpty(configured) ? configured : knownPaths.FirstOrDefault(File.Exists);
    }
}
