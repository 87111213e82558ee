namespace Bulkhead.LoadTest.Client;

/// <summary>Closed-loop report clients hammering one endpoint until disposed; counts what was served and refused.</summary>
internal sealed class Flood : IAsyncDisposable
{
    private readonly CancellationTokenSource _stop;
    private readonly List<Task> _clients = [];
    private long _reports;
    private long _rejections;

    private Flood(CancellationToken cancellationToken) => _stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);

    public long Reports => Interlocked.Read(ref _reports);

    public long Rejections => Interlocked.Read(ref _rejections);

    /// <summary>Starts the clients and lets the flood build up before anything is measured.</summary>
    public static async Task<Flood> StartAsync(HttpClient http, string path, LoadTestOptions options, CancellationToken cancellationToken)
    {
        var flood = new Flood(cancellationToken);
        for (int c = 0; c < options.ReportClients; c++)
        {
            flood._clients.Add(Task.Run(() => flood.RunClientAsync(http, path), CancellationToken.None));
        }

        await Task.Delay(TimeSpan.FromSeconds(Math.Min(1, options.Duration.TotalSeconds / 4)), cancellationToken);
        return flood;
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await Task.WhenAll(_clients);
        _stop.Dispose();
    }

    private async Task RunClientAsync(HttpClient http, string path)
    {
        while (!_stop.IsCancellationRequested)
        {
            try
            {
                using HttpResponseMessage response = await http.GetAsync(path, _stop.Token);
                Interlocked.Increment(ref response.IsSuccessStatusCode ? ref _reports : ref _rejections);
            }
            catch (OperationCanceledException) when (_stop.IsCancellationRequested)
            {
            }
        }
    }
}
