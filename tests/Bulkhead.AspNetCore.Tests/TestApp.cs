using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Bulkhead.Telemetry.Internal;

namespace Bulkhead.AspNetCore.Tests;

/// <summary>A minimal web app on TestServer (or Kestrel on 127.0.0.1) with workload isolation in its pipeline.</summary>
internal sealed class TestApp : IAsyncDisposable
{
    private TestApp(WebApplication app) => App = app;

    public WebApplication App { get; }

    public IWorkloadScheduler Scheduler => App.Services.GetRequiredService<IWorkloadScheduler>();

    public WorkloadSnapshot Snapshot => Scheduler.GetSnapshot();

    public FrontEndCounters Counters => App.Services.GetRequiredService<FrontEndCounters>();

    public static async Task<TestApp> StartAsync(
        Action<WorkloadIsolationOptions> configure,
        Action<WebApplication> map,
        Action<IServiceCollection>? services = null,
        bool kestrel = false)
    {
        WebApplicationBuilder builder = WebApplication.CreateSlimBuilder();
        if (kestrel)
        {
            builder.WebHost.UseKestrel().UseUrls("http://127.0.0.1:0");
        }
        else
        {
            builder.WebHost.UseTestServer();
        }

        builder.Services.AddWorkloadIsolation(configure);
        services?.Invoke(builder.Services);
        WebApplication app = builder.Build();
        app.UseWorkloadIsolation();
        map(app);
        await app.StartAsync().WithTimeout();
        return new TestApp(app);
    }

    public HttpClient CreateClient() => App.GetTestClient();

    public async ValueTask DisposeAsync()
    {
        await App.StopAsync().WithTimeout();
        await App.DisposeAsync();
    }
}
