using System.Diagnostics;
using System.Net;
using Bulkhead.LoadTest.Client;
using Bulkhead.LoadTest.Reporting;

namespace Bulkhead.LoadTest.AdminStorm;

/// <summary>What one run of the admin storm saw: the interactive p99 against its baseline, and what became of every admin call.</summary>
public sealed record AdminStormResult(Mode Mode, int Repetition, double BaselineP99, double P50, double P99, int Served, int RejectedWithRetryAfter, int OtherAnswers, int Lost, double ClearedSeconds);

/// <summary>What became of one admin call.</summary>
internal enum AdminOutcome
{
    Served,
    RejectedWithRetryAfter,
    OtherAnswer,
    Lost,
}

/// <summary>
/// One run: the interactive endpoint alone (baseline), then on a server of the mode, warmed up by a small storm,
/// interactive requests at their rate while a storm of admin calls arrives at once, a quarter of the way in. An admin call is served (200), rejected
/// properly (503 with a Retry-After), answered otherwise (another status, or a 503 that says nothing of when to come
/// back), or lost (no answer: an error or a timeout).
/// </summary>
internal static class AdminStormDriver
{
    public static async Task<AdminStormResult> RunAsync(Mode mode, int repetition, LoadTestOptions options, CancellationToken cancellationToken)
    {
        double baselineP99 = await ScenarioRuns.BaselineP99Async(options, cancellationToken);
        await using ServerProcess server = await ServerProcess.StartAsync(mode, cancellationToken);
        using HttpClient client = LoadDriver.CreateClient(server.Address);
        for (int i = 0; i < 20; i++)
        {
            (await client.GetAsync("/interactive", cancellationToken)).Dispose();
        }

        // A small storm first, for every mode alike: the paths that serve, queue and refuse admin calls are compiled
        // (just-in-time) before anything is measured, as they would be in a server that has been up for a while.
        if (!options.Cold)
        {
            await Task.WhenAll(Enumerable.Range(0, AdminStormServer.QueueLimit * 2).Select(_ => CallAdminAsync(client, cancellationToken)));
        }
        else
        {
            (await client.PostAsync("/admin", content: null, cancellationToken)).Dispose();
        }

        Task<LoadDriver.Interactive> interactive = LoadDriver.MeasureInteractiveAsync(client, options, cancellationToken);
        await Task.Delay(options.Duration / 4, cancellationToken);
        var clock = Stopwatch.StartNew();
        AdminOutcome[] outcomes = await Task.WhenAll(Enumerable.Range(0, options.AdminStormCalls).Select(_ => CallAdminAsync(client, cancellationToken)));
        double cleared = clock.Elapsed.TotalSeconds;
        LoadDriver.Interactive measured = await interactive;

        return new AdminStormResult(
            mode,
            repetition,
            baselineP99,
            measured.Ms(50),
            measured.Ms(99),
            outcomes.Count(o => o == AdminOutcome.Served),
            outcomes.Count(o => o == AdminOutcome.RejectedWithRetryAfter),
            outcomes.Count(o => o == AdminOutcome.OtherAnswer),
            outcomes.Count(o => o == AdminOutcome.Lost),
            cleared);
    }

    private static async Task<AdminOutcome> CallAdminAsync(HttpClient client, CancellationToken cancellationToken)
    {
        try
        {
            using HttpResponseMessage response = await client.PostAsync("/admin", content: null, cancellationToken);
            return response.StatusCode switch
            {
                HttpStatusCode.OK => AdminOutcome.Served,
                HttpStatusCode.ServiceUnavailable when response.Headers.RetryAfter is not null => AdminOutcome.RejectedWithRetryAfter,
                _ => AdminOutcome.OtherAnswer,
            };
        }
        catch (HttpRequestException)
        {
            return AdminOutcome.Lost;
        }
        catch (TaskCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return AdminOutcome.Lost;
        }
    }
}
