using System.Diagnostics;
using Bulkhead.LoadTest.Client;

namespace Bulkhead.LoadTest.RejectionStorm;

/// <summary>What one run of the rejection storm saw: reports and interactive p99 before and during the storm, and what the storm cost.</summary>
public sealed record RejectionStormResult(Mode Mode, int Repetition, double CalmReportsPerSecond, double StormReportsPerSecond, double CalmP99, double StormP99, double RefusalsPerSecond, double ServerCores, double DriverCores);

/// <summary>
/// One run, on one server of the mode: the headline's report flood and interactive requests, measured once calm and
/// once while closed-loop clients hammer an endpoint that refuses them (each retries the moment it is refused).
/// </summary>
internal static class RejectionStormDriver
{
    public static async Task<RejectionStormResult> RunAsync(Mode mode, int repetition, LoadTestOptions options, CancellationToken cancellationToken)
    {
        await using ServerProcess server = await ServerProcess.StartAsync(mode, cancellationToken);
        using HttpClient http = LoadDriver.CreateClient(server.Address);
        await LoadDriver.WarmUpAsync(http, "/report", cancellationToken);
        for (int i = 0; i < 100; i++)
        {
            (await http.GetAsync(RejectionStormServer.Path, cancellationToken)).Dispose();
        }

        await using Flood reports = await Flood.StartAsync(http, "/report", options, cancellationToken);
        (LoadDriver.Interactive calm, double calmReports) = await LoadDriver.MeasureUnderFloodAsync(http, reports, options, cancellationToken);

        await using Flood storm = await Flood.StartAsync(http, RejectionStormServer.Path, options with { ReportClients = options.StormClients }, cancellationToken);
        long refusedBefore = storm.Rejections;
        TimeSpan serverCpu = server.CpuTime;
        TimeSpan driverCpu = Process.GetCurrentProcess().TotalProcessorTime;
        (LoadDriver.Interactive stormy, double stormReports) = await LoadDriver.MeasureUnderFloodAsync(http, reports, options, cancellationToken);
        double seconds = stormy.Seconds;
        return new RejectionStormResult(
            mode,
            repetition,
            calmReports,
            stormReports,
            calm.Ms(99),
            stormy.Ms(99),
            (storm.Rejections - refusedBefore) / seconds,
            (server.CpuTime - serverCpu).TotalSeconds / seconds,
            (Process.GetCurrentProcess().TotalProcessorTime - driverCpu).TotalSeconds / seconds);
    }
}
