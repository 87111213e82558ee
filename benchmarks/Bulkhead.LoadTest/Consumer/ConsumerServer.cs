using Bulkhead.LoadTest.Server;
using Bulkhead.RabbitMQ;
using RabbitMQ.Client;
using RabbitMQ.Client.Events;

namespace Bulkhead.LoadTest.Consumer;

/// <summary>
/// The consumer scenario's side of the server: the headline's interactive endpoint, and a consumer of a RabbitMQ queue
/// of report messages (40 ms of CPU each, in two halves around an await, as the headline's report) in the same process.
/// Unprotected: a plain RabbitMQ.Client consumer handling as many messages at once as there are cores, on the
/// ThreadPool. Bulkhead: the core's consumer gate over <see cref="RabbitMqMessageSource"/>, the reporting class of kind
/// CpuBound (a thread of its own per core at the lowest CPU priority, as many seats), or the same at idle priority.
/// <c>/consumed</c> says how many messages were handled.
/// </summary>
internal static class ConsumerServer
{
    public const string Queue = "reports";

    public const double ReportCpuMs = 40;

    private static long s_consumed;

    public static bool IsConsumer(Mode mode) => mode is Mode.ConsumerNoIsolation or Mode.ConsumerBulkhead or Mode.ConsumerBulkheadIdle;

    public static void Configure(WebApplicationBuilder builder, Mode mode, Uri broker)
    {
        if (mode is Mode.ConsumerBulkhead or Mode.ConsumerBulkheadIdle)
        {
            builder.Services.AddWorkloadIsolation(o =>
            {
                o.AddInteractiveClass();
                o.AddClass("reporting", c =>
                {
                    // The recipe getting-started.md leads with: a thread of its own per core at Lowest, as many seats.
                    c.Priority = 2;
                    c.Kind = WorkloadKind.CpuBound;
                    if (mode == Mode.ConsumerBulkheadIdle)
                    {
                        c.Execution = new WorkloadExecutionOptions { CpuPriority = WorkloadCpuPriority.Idle };
                    }
                });
            });
        }

        builder.Services.AddHostedService(services => new ReportConsumer(mode, broker, services.GetService<IWorkloadScheduler>()));
    }

    public static void Map(WebApplication app, Mode mode)
    {
        if (mode != Mode.ConsumerNoIsolation)
        {
            app.UseWorkloadIsolation();
        }

        app.MapGet("/consumed", () => Interlocked.Read(ref s_consumed).ToString(System.Globalization.CultureInfo.InvariantCulture));
    }

    private static async ValueTask RenderAsync()
    {
        CpuWork.Run(ReportCpuMs / 2);
        await Task.Yield();
        CpuWork.Run(ReportCpuMs / 2);
        Interlocked.Increment(ref s_consumed);
    }

    private sealed class ReportConsumer(Mode mode, Uri broker, IWorkloadScheduler? workloads) : BackgroundService
    {
        protected override async Task ExecuteAsync(CancellationToken stoppingToken)
        {
            ushort cores = (ushort)Environment.ProcessorCount;
            var factory = new ConnectionFactory { Uri = broker, ConsumerDispatchConcurrency = cores };
            await using IConnection connection = await factory.CreateConnectionAsync(stoppingToken);
            if (mode != Mode.ConsumerNoIsolation)
            {
                await using RabbitMqMessageSource source = await RabbitMqMessageSource.StartAsync(connection, Queue, cores, stoppingToken);
                await WorkloadConsumer.RunAsync(workloads!.GetClass("reporting"), source, (_, _) => RenderAsync(), new WorkloadConsumerOptions { MaxInFlight = cores }, stoppingToken);
                return;
            }

            // What an application writes without isolation: as many messages at once as cores, acknowledged after.
            await using IChannel channel = await connection.CreateChannelAsync(cancellationToken: stoppingToken);
            await channel.BasicQosAsync(0, cores, global: false, stoppingToken);
            var consumer = new AsyncEventingBasicConsumer(channel);
            consumer.ReceivedAsync += async (_, delivery) =>
            {
                await RenderAsync();
                await channel.BasicAckAsync(delivery.DeliveryTag, multiple: false, stoppingToken);
            };
            await channel.BasicConsumeAsync(Queue, autoAck: false, consumer, stoppingToken);
            await Task.Delay(Timeout.Infinite, stoppingToken).ContinueWith(_ => { }, TaskScheduler.Default);
        }
    }
}
