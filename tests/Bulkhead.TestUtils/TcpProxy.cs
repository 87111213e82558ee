using System.Net;
using System.Net.Sockets;

namespace Bulkhead.TestUtils;

/// <summary>
/// A loopback TCP proxy a test owns, between a client and a server: it forwards bytes both ways until the test cuts it
/// (every connection closed, new ones closed as they come: a network partition as the client sees it) or holds it (bytes
/// stop flowing both ways but connections stay open: a server that stopped answering), and forwards again once
/// restored. The server keeps its state throughout, unlike a server that is killed.
/// </summary>
public sealed class TcpProxy : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly int _target;
    private readonly Lock _lock = new();
    private readonly List<(TcpClient Client, TcpClient Server)> _connections = [];
    private readonly CancellationTokenSource _stopping = new();
    private readonly Task _accepting;
    private TaskCompletionSource _flowing = NewFlowing(open: true);
    private volatile ProxyMode _mode = ProxyMode.Forward;

    private TcpProxy(int target)
    {
        _target = target;
        _listener.Start();
        _accepting = AcceptAsync(_stopping.Token);
    }

    private enum ProxyMode
    {
        Forward,
        Cut,
        Hold,
    }

    /// <summary>Gets the port clients connect to.</summary>
    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    /// <summary>Gets a StackExchange.Redis configuration string through the proxy.</summary>
    public string Configuration => $"127.0.0.1:{Port}";

    public static TcpProxy Start(int targetPort) => new(targetPort);

    /// <summary>Closes every connection, and every new one as it comes, until <see cref="Restore"/>.</summary>
    public void Cut()
    {
        lock (_lock)
        {
            _mode = ProxyMode.Cut;
            foreach ((TcpClient client, TcpClient server) in _connections)
            {
                client.Dispose();
                server.Dispose();
            }

            _connections.Clear();
        }
    }

    /// <summary>Stops forwarding bytes (connections stay open, nothing is answered) until <see cref="Restore"/>.</summary>
    public void Hold()
    {
        lock (_lock)
        {
            _mode = ProxyMode.Hold;
            _flowing = NewFlowing(open: false);
        }
    }

    /// <summary>Forwards again; what was held is delivered.</summary>
    public void Restore()
    {
        lock (_lock)
        {
            _mode = ProxyMode.Forward;
            _flowing.TrySetResult();
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync();
        _listener.Stop();
        Cut();
        Restore();
        try
        {
            await _accepting;
        }
        catch (OperationCanceledException)
        {
        }

        _stopping.Dispose();
    }

    private static TaskCompletionSource NewFlowing(bool open)
    {
        var flowing = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        if (open)
        {
            flowing.SetResult();
        }

        return flowing;
    }

    private async Task AcceptAsync(CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            TcpClient client;
            try
            {
                client = await _listener.AcceptTcpClientAsync(cancellationToken);
            }
            catch (Exception exception) when (exception is SocketException or ObjectDisposedException or OperationCanceledException)
            {
                return;
            }

            if (_mode == ProxyMode.Cut)
            {
                client.Dispose();
                continue;
            }

            var server = new TcpClient();
            try
            {
                await server.ConnectAsync(IPAddress.Loopback, _target, cancellationToken);
            }
            catch (Exception exception) when (exception is SocketException or OperationCanceledException)
            {
                client.Dispose();
                server.Dispose();
                continue;
            }

            lock (_lock)
            {
                _connections.Add((client, server));
            }

            _ = PumpAsync(client, server, cancellationToken);
            _ = PumpAsync(server, client, cancellationToken);
        }
    }

    private async Task PumpAsync(TcpClient from, TcpClient to, CancellationToken cancellationToken)
    {
        byte[] buffer = new byte[16 * 1024];
        try
        {
            NetworkStream source = from.GetStream();
            NetworkStream destination = to.GetStream();
            while (true)
            {
                int read = await source.ReadAsync(buffer, cancellationToken);
                if (read == 0)
                {
                    break;
                }

                Task flowing;
                lock (_lock)
                {
                    flowing = _flowing.Task;
                }

                await flowing.WaitAsync(cancellationToken);
                await destination.WriteAsync(buffer.AsMemory(0, read), cancellationToken);
            }
        }
        catch (Exception exception) when (exception is IOException or SocketException or ObjectDisposedException or InvalidOperationException or OperationCanceledException)
        {
        }
        finally
        {
            from.Dispose();
            to.Dispose();
        }
    }
}
