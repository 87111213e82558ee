using System.Diagnostics;

namespace Bulkhead.LoadTest.Client;

/// <summary>The server under test, in a process of its own (the same binary, run with <c>server --mode</c>).</summary>
internal sealed class ServerProcess : IAsyncDisposable
{
    private readonly Process _process;

    private ServerProcess(Process process, Uri address)
    {
        _process = process;
        Address = address;
    }

    public Uri Address { get; }

    /// <summary>Gets the CPU time the server process has used so far (all its threads).</summary>
    public TimeSpan CpuTime
    {
        get
        {
            _process.Refresh();
            return _process.TotalProcessorTime;
        }
    }

    /// <summary>Gets a value indicating whether the server process has ended (it crashed, or was killed by the system).</summary>
    public bool HasExited => _process.HasExited;

    /// <summary>Gets how the server process ended, once it has.</summary>
    public int ExitCode => _process.ExitCode;

    public static Task<ServerProcess> StartAsync(Mode mode, CancellationToken cancellationToken, params string[] settings) =>
        StartAsync(mode, environment: null, cancellationToken, settings);

    /// <summary>Starts the server with <paramref name="environment"/> added to its environment (the GC's heap hard limit, for one).</summary>
    public static async Task<ServerProcess> StartAsync(Mode mode, IReadOnlyDictionary<string, string>? environment, CancellationToken cancellationToken, params string[] settings)
    {
        string entry = typeof(ServerProcess).Assembly.Location;
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach ((string name, string value) in environment ?? new Dictionary<string, string>())
        {
            start.Environment[name] = value;
        }

        start.ArgumentList.Add(entry);
        start.ArgumentList.Add("server");
        start.ArgumentList.Add("--mode");
        start.ArgumentList.Add(mode.ToString());
        start.ArgumentList.Add("--iterations-per-ms");
        start.ArgumentList.Add(Server.CpuWork.IterationsPerMillisecond.ToString("R", System.Globalization.CultureInfo.InvariantCulture));
        foreach (string setting in settings)
        {
            start.ArgumentList.Add(setting);
        }

        Process process = Process.Start(start) ?? throw new InvalidOperationException("Could not start the server process.");
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(30));
        while (await process.StandardOutput.ReadLineAsync(timeout.Token) is { } line)
        {
            if (line.StartsWith("listening ", StringComparison.Ordinal))
            {
                return new ServerProcess(process, new Uri(line["listening ".Length..]));
            }
        }

        string error = await process.StandardError.ReadToEndAsync(cancellationToken);
        throw new InvalidOperationException($"The server process ended before listening: {error}");
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }

        _process.Dispose();
    }
}
