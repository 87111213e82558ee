using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace Bulkhead.TestUtils;

/// <summary>
/// A real RabbitMQ broker (Debian's rabbitmq-server) of the test's own: its node, its own epmd, on free loopback ports,
/// its data in a temporary folder deleted when it is disposed; killed and started again on the same ports by tests of
/// failure. <c>./test.sh</c> installs it when absent and sets <c>BULKHEAD_REQUIRE_RABBITMQ=1</c>, so that in CI a
/// missing broker fails the tests; a plain <c>dotnet test</c> without it reports them as skipped, saying why.
/// </summary>
public sealed class RabbitMqServer : IAsyncDisposable
{
    private static readonly string[] s_knownPaths = ["/usr/lib/rabbitmq/bin/rabbitmq-server"];

    public static readonly string? Path = Binaries.Find("RABBITMQ_SERVER", s_knownPaths);

    public const string Missing = "Debian's rabbitmq-server is not installed: ./test.sh installs it (apt-get install rabbitmq-server), or set RABBITMQ_SERVER to its rabbitmq-server script.";

    private readonly string _folder = Directory.CreateTempSubdirectory("bulkhead-rabbitmq-").FullName;
    private int _distributionPort;
    private int _epmdPort;
    private readonly System.Collections.Concurrent.ConcurrentQueue<string> _output = new();
    private Process? _epmd;
    private Process? _broker;

    private RabbitMqServer(int port) => Port = port;

    public static bool Required => System.Environment.GetEnvironmentVariable("BULKHEAD_REQUIRE_RABBITMQ") == "1";

    /// <summary>Gets why a test that needs the broker is skipped: <see langword="null"/> when it is installed, or required (then its absence fails the test).</summary>
    public static string? SkipReason => Path is null && !Required ? Missing : null;

    /// <summary>Gets the broker's AMQP port on loopback.</summary>
    public int Port { get; }

    /// <summary>Gets the broker's AMQP URI (the default guest user, which loopback clients may use).</summary>
    public Uri Uri => new($"amqp://guest:guest@127.0.0.1:{Port}/");

    public static async Task<RabbitMqServer> StartAsync()
    {
        var server = new RabbitMqServer(Binaries.FreePort());
        await server.StartAgainAsync();
        return server;
    }

    /// <summary>
    /// Starts the broker (again) on its AMQP port, with what it stored before, and waits until it accepts connections.
    /// Its epmd and distribution ports are chosen afresh each time: another process may have taken one since it was
    /// free (an outgoing connection's local port), and a broker that cannot bind it exits; then it is started again.
    /// </summary>
    public async Task StartAgainAsync()
    {
        string path = Path ?? throw new InvalidOperationException(Missing);
        File.WriteAllText(System.IO.Path.Combine(_folder, "enabled_plugins"), "[].");
        File.WriteAllText(System.IO.Path.Combine(_folder, "rabbitmq.conf"), "loopback_users = none\n");
        for (int attempt = 1; ; attempt++)
        {
            _distributionPort = Binaries.FreePort();
            _epmdPort = Binaries.FreePort();
            _epmd = Run("epmd", ["-port", _epmdPort.ToString(CultureInfo.InvariantCulture)], []);
            _broker = Run(path, [], BrokerEnvironment());
            Process broker = _broker;
            try
            {
                await Eventually.TrueAsync(() => broker.HasExited || Accepts(), $"rabbitmq-server accepts connections on port {Port}", TimeSpan.FromSeconds(90));
            }
            catch (TimeoutException exception)
            {
                throw new TimeoutException($"{exception.Message} What it and its epmd printed last:{System.Environment.NewLine}{string.Join(System.Environment.NewLine, _output)}", exception);
            }

            if (!broker.HasExited)
            {
                return;
            }

            await StopAsync();
            if (attempt == 3)
            {
                throw new InvalidOperationException($"rabbitmq-server exited {attempt} times while starting. What it printed last:{System.Environment.NewLine}{string.Join(System.Environment.NewLine, _output)}");
            }
        }
    }

    private Dictionary<string, string> BrokerEnvironment() => new()
    {
        ["HOME"] = _folder,
        ["RABBITMQ_NODENAME"] = $"bulkhead{Port}@localhost",
        ["RABBITMQ_NODE_IP_ADDRESS"] = "127.0.0.1",
        ["RABBITMQ_NODE_PORT"] = Port.ToString(CultureInfo.InvariantCulture),
        ["RABBITMQ_DIST_PORT"] = _distributionPort.ToString(CultureInfo.InvariantCulture),
        ["ERL_EPMD_PORT"] = _epmdPort.ToString(CultureInfo.InvariantCulture),
        ["RABBITMQ_MNESIA_BASE"] = System.IO.Path.Combine(_folder, "mnesia"),
        ["RABBITMQ_LOG_BASE"] = System.IO.Path.Combine(_folder, "log"),
        ["RABBITMQ_ENABLED_PLUGINS_FILE"] = System.IO.Path.Combine(_folder, "enabled_plugins"),
        ["RABBITMQ_CONFIG_FILE"] = System.IO.Path.Combine(_folder, "rabbitmq"),
        ["RABBITMQ_ADVANCED_CONFIG_FILE"] = System.IO.Path.Combine(_folder, "advanced.config"),
        ["RABBITMQ_CONF_ENV_FILE"] = System.IO.Path.Combine(_folder, "rabbitmq-env.conf"),
        ["RABBITMQ_PID_FILE"] = System.IO.Path.Combine(_folder, "pid"),
        ["RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS"] = "-start_epmd false +sbwt none +sbwtdcpu none +sbwtdio none",
    };

    /// <summary>Kills the broker (and its epmd), as a crash looks to its clients; what it stored stays for <see cref="StartAgainAsync"/>.</summary>
    public async Task StopAsync()
    {
        foreach (Process? process in new[] { _broker, _epmd })
        {
            if (process is { HasExited: false })
            {
                process.Kill(entireProcessTree: true);
                await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));
            }

            process?.Dispose();
        }

        _broker = null;
        _epmd = null;
        await Eventually.TrueAsync(() => !Accepts(), $"rabbitmq-server on port {Port} is gone");
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        try
        {
            Directory.Delete(_folder, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private Process Run(string path, string[] arguments, Dictionary<string, string> environment)
    {
        var start = new ProcessStartInfo(path) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        foreach ((string name, string value) in environment)
        {
            start.Environment[name] = value;
        }

        Process process = Process.Start(start) ?? throw new InvalidOperationException($"{path} did not start.");
        process.OutputDataReceived += (_, line) => Keep(line.Data);
        process.ErrorDataReceived += (_, line) => Keep(line.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }

    /// <summary>Keeps the last lines the broker and its epmd printed, for a start that fails.</summary>
    private void Keep(string? line)
    {
        if (line is null)
        {
            return;
        }

        _output.Enqueue(line);
        while (_output.Count > 60 && _output.TryDequeue(out _))
        {
        }
    }

    private bool Accepts()
    {
        try
        {
            using var client = new TcpClient();
            client.Connect(IPAddress.Loopback, Port);
            using NetworkStream stream = client.GetStream();

            // The AMQP 0-9-1 protocol header: a broker that is up answers with Connection.Start.
            stream.Write("AMQP\0\0\u0009\u0001"u8);
            stream.ReadTimeout = 2000;
            return stream.Read(new byte[8]) > 0;
        }
        catch (Exception exception) when (exception is SocketException or IOException)
        {
            return false;
        }
    }
}
