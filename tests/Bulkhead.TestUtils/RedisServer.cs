using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Bulkhead.TestUtils;

/// <summary>
/// A real redis-server (Debian's package) of the test's own, on a free loopback port, persistence off; stopped and
/// started again on the same port by tests of failure. <c>./test.sh</c> installs it when absent and sets
/// <c>BULKHEAD_REQUIRE_REDIS=1</c>, so that in CI a missing server fails the tests; a plain <c>dotnet test</c> without
/// it reports them as skipped, saying why.
/// </summary>
public sealed class RedisServer : IAsyncDisposable
{
    private static readonly string[] s_knownPaths = ["/usr/bin/redis-server", "/usr/sbin/redis-server", "/usr/local/bin/redis-server"];

    public static readonly string? Path = Binaries.Find("REDIS_SERVER", s_knownPaths);

    public const string Missing = "Debian's redis-server is not installed: ./test.sh installs it (apt-get install redis-server), or set REDIS_SERVER to a redis-server binary.";

    private Process? _process;

    private RedisServer(int port) => Port = port;

    public static bool Required => Environment.GetEnvironmentVariable("BULKHEAD_REQUIRE_REDIS") == "1";

    /// <summary>Gets why a test that needs the server is skipped: <see langword="null"/> when it is installed, or required (then its absence fails the test).</summary>
    public static string? SkipReason => Path is null && !Required ? Missing : null;

    public int Port { get; }

    /// <summary>Gets the StackExchange.Redis configuration string of the server.</summary>
    public string Configuration => $"127.0.0.1:{Port}";

    public static async Task<RedisServer> StartAsync()
    {
        var server = new RedisServer(Binaries.FreePort());
        await server.StartAgainAsync();
        return server;
    }

    /// <summary>Starts the server (again) on its port, and waits until it answers.</summary>
    public async Task StartAgainAsync()
    {
        string path = Path ?? throw new InvalidOperationException(Missing);
        var start = new ProcessStartInfo(path) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string argument in new[] { "--port", Port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--protected-mode", "no", "--loglevel", "warning", "--enable-debug-command", "local" })
        {
            start.ArgumentList.Add(argument);
        }

        _process = Process.Start(start) ?? throw new InvalidOperationException($"{path} did not start.");
        _process.OutputDataReceived += static (_, _) => { };
        _process.ErrorDataReceived += static (_, _) => { };
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
        await Eventually.TrueAsync(Answers, $"redis-server answers on port {Port}");
    }

    /// <summary>Kills the server, as a crash or a network cut would look to its clients.</summary>
    public async Task StopAsync()
    {
        if (_process is { HasExited: false } process)
        {
            process.Kill();
            await process.WaitForExitAsync().WithTimeout();
        }

        _process?.Dispose();
        _process = null;
    }

    public async ValueTask DisposeAsync() => await StopAsync();

    private bool Answers()
    {
        try
        {
            using var client = new TcpClient();
            client.Connect(IPAddress.Loopback, Port);
            using NetworkStream stream = client.GetStream();
            stream.Write("PING\r\n"u8);
            byte[] buffer = new byte[7];
            int read = stream.Read(buffer);
            return read >= 5 && buffer[0] == (byte)'+';
        }
        catch (SocketException)
        {
            return false;
        }
    }
}
