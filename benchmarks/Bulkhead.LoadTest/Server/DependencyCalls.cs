namespace Bulkhead.LoadTest.Server;

/// <summary>
/// The endpoints of the scenarios where work calls a service of fixed capacity through HttpClient: that service's one
/// endpoint, and the front server's interactive endpoint and report, which call it.
/// </summary>
internal static class DependencyCalls
{
    /// <summary>The called service: each call holds one of its workers for the time it asks.</summary>
    public static void MapWorkers(WebApplication app, Downstream workers) =>
        app.MapGet("/work/{ms:int}", async (int ms) =>
        {
            await workers.UseAsync(1, TimeSpan.FromMilliseconds(ms));
            return "done";
        });

    /// <summary>
    /// The front server: <c>/interactive</c> makes one call of <paramref name="interactiveCallMs"/> through the client
    /// <paramref name="interactiveClient"/>; the report fans out <paramref name="reportCalls"/> calls of
    /// <paramref name="reportCallMs"/> at once through <paramref name="reportClient"/>. Returns the report's endpoint.
    /// </summary>
    public static RouteHandlerBuilder MapCallers(WebApplication app, string interactiveClient, string reportClient, string reportPath, int interactiveCallMs, int reportCalls, int reportCallMs)
    {
        IHttpClientFactory clients = app.Services.GetRequiredService<IHttpClientFactory>();
        app.MapGet("/interactive", async (CancellationToken aborted) =>
        {
            CpuWork.Run(0.2);
            using HttpResponseMessage answer = await clients.CreateClient(interactiveClient).GetAsync(new Uri($"/work/{interactiveCallMs}", UriKind.Relative), aborted);
            answer.EnsureSuccessStatusCode();
            return "ok";
        });
        return app.MapGet(reportPath, async (CancellationToken aborted) =>
        {
            CpuWork.Run(0.2);
            HttpClient client = clients.CreateClient(reportClient);
            await Task.WhenAll(Enumerable.Range(0, reportCalls).Select(async _ =>
            {
                using HttpResponseMessage answer = await client.GetAsync(new Uri($"/work/{reportCallMs}", UriKind.Relative), aborted);
                answer.EnsureSuccessStatusCode();
            }));
            return "report";
        });
    }
}
