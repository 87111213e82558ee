namespace Bulkhead.LoadTest.Client;

/// <summary>
/// Closed-loop report clients hammering one endpoint until disposed; counts what was served, refused (503 or 429) and
/// failed (any other error, or no answer at all).
/// </summary>
internal sealed class Flood : IAsyncDisposable
{
    private readonly CancellationTokenSource _stop;
    private readonly List<Task> _clients = [];
    private readonly TimeSpan _backOff;
    private long _reports;
    private long _rejections;
    private long _failures;

    private Flood(TimeSpan backOff, CancellationToken cancellationToken)
    {
        _backOff = backOff;
        _stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
    }

    public long Reports => Interlocked.Read(ref _reports);

    /// <summary>Gets the calls that were not served: refused and failed.</summary>
    public long Rejections => Interlocked.Read(ref _rejections);

    /// <summary>Gets the calls that failed: an error other than a refusal (503, 429), or no answer.</summary>
    public long Failures => Interlocked.Read(ref _failures);

    /// <summary>
    /// Starts the clients and lets the flood build up before anything is measured. A client whose call was not served
    /// waits <paramref name="backOff"/> before the next (as one honouring <c>Retry-After</c> would); none by default.
    /// </summary>
    public static async Task<Flood> StartAsync(HttpClient http, string path, LoadTestOptions options, CancellationToken cancellationToken, TimeSpan backOff = default)
    {
        var flood = new Flood(backOff, cancellationToken);
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
            bool served = false;
            try
            {
                using HttpResponseMessage response = await http.GetAsync(path, _stop.Token);
                served = response.IsSuccessStatusCode;
                Interlocked.Increment(ref served ? ref _reports : ref _rejections);
                if (!served && response.StatusCode is not (System.Net.HttpStatusCode.ServiceUnavailable or System.Net.HttpStatusCode.TooManyRequests))
                {
                    Interlocked.Increment(ref _failures);
                }
            }
            catch (OperationCanceledException) when (_stop.IsCancellationRequested)
            {
                return;
            }
            catch (HttpRequestException)
            {
                // No answer: the server is gone, or dropped the connection.
                Interlocked.Increment(ref _rejections);
                Interlocked.Increment(ref _failures);
                await Task.Delay(TimeSpan.FromMilliseconds(100), CancellationToken.None);
            }

            if (!served && _backOff > TimeSpan.Zero && !_stop.IsCancellationRequested)
            {
                await Task.Delay(_backOff, CancellationToken.None);
            }
        }
    }
}
