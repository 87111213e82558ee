using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using Bulkhead.Telemetry.Internal;

namespace Bulkhead.AspNetCore.Tests;

/// <summary>Builds the middleware over a terminal delegate, for unit tests on <see cref="DefaultHttpContext"/>.</summary>
internal sealed class PipelineFactory : IDisposable
{
    public PipelineFactory(Action<WorkloadIsolationOptions> configure, RequestDelegate terminal, Action<IWorkloadIsolationBuilder>? more = null)
    {
        var services = new ServiceCollection().AddLogging().AddSingleton<TimeProvider>(Time).AddSingleton(Counters);
        IWorkloadIsolationBuilder builder = services.AddWorkloadIsolation(configure);
        more?.Invoke(builder);
        Services = services.BuildServiceProvider();
        var app = new ApplicationBuilder(Services);
        app.UseWorkloadIsolation();
        app.Run(terminal);
        Pipeline = app.Build();
    }

    public FakeTimeProvider Time { get; } = new();

    public FrontEndCounters Counters { get; } = new();

    public ServiceProvider Services { get; }

    public RequestDelegate Pipeline { get; }

    public IWorkloadScheduler Scheduler => Services.GetRequiredService<IWorkloadScheduler>();

    public DefaultHttpContext NewContext(string path = "/", Endpoint? endpoint = null, string method = "GET")
    {
        var context = new DefaultHttpContext { RequestServices = Services };
        context.Request.Path = path;
        context.Request.Method = method;
        context.Response.Body = new MemoryStream();
        if (endpoint is not null)
        {
            context.SetEndpoint(endpoint);
        }

        return context;
    }

    public static Endpoint Endpoint(params object[] metadata) => new(null, new EndpointMetadataCollection(metadata), "test endpoint");

    public void Dispose() => Services.Dispose();
}
