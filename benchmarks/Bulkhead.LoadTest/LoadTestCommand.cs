using System.CommandLine;
using System.Globalization;
using Bulkhead.LoadTest.Client;
using Bulkhead.LoadTest.CostStep;
using Bulkhead.LoadTest.Reporting;
using Bulkhead.LoadTest.Server;
using Spectre.Console;

namespace Bulkhead.LoadTest;

/// <summary>
/// The isolation benchmark: <c>dotnet run -c Release --project benchmarks/Bulkhead.LoadTest -- [--quick]</c>.
/// </summary>
public static class LoadTestCommand
{
    public static async Task<int> RunAsync(string[] args)
    {
        var quick = new Option<bool>("--quick") { Description = "One repetition of 3-second phases: the isolation demo in about a minute; with --scenario All, a short form of every scenario in turn." };
        var duration = new Option<double?>("--duration") { Description = "Seconds each phase measures (default 10; 3 with --quick)." };
        var rate = new Option<int?>("--rate") { Description = "Interactive requests per second, open loop (default 100)." };
        var clients = new Option<int?>("--clients") { Description = "Closed-loop report clients (default 16)." };
        var repetitions = new Option<int?>("--repetitions") { Description = "How often the whole sequence runs (default 3; 1 with --quick)." };
        var modes = new Option<Mode[]>("--modes") { Description = "Flood modes to run, separated by spaces (default: all).", AllowMultipleArgumentsPerToken = true };

        // An enum parses "A,B" as the flags A | B, an undefined mode that would run as a number.
        modes.Validators.Add(result =>
        {
            foreach (Mode mode in result.GetValueOrDefault<Mode[]>() ?? [])
            {
                if (!Enum.IsDefined(mode))
                {
                    result.AddError($"--modes: '{result.Tokens.FirstOrDefault(t => t.Value.Contains(',', StringComparison.Ordinal))?.Value ?? mode.ToString()}' is not a mode; separate modes by spaces.");
                }
            }
        });
        var output = new Option<string>("--output") { Description = "Where results.md and the chart go.", DefaultValueFactory = _ => "artifacts/loadtest" };
        var noChart = new Option<bool>("--no-chart") { Description = "Skip the chart." };
        var scenario = new Option<Scenario>("--scenario") { Description = "Isolation (default), CostStep (adaptive protection against a report cost that doubles halfway) Fleet (fleet-wide limits on Redis: round trips and admission time) AdminStorm (200 expensive admin calls at once), RejectionStorm (the report flood while 64 clients hammer an endpoint that refuses them), HotTenant (one tenant of ten sends 10x), Starvation (reports that block ThreadPool threads) Weighted (reports 40x the cost of interactive calls on a shared downstream) SharedDownstream (interactive calls and reports call one dependency, a service in a process of its own, through HttpClient) TwoServices (a report flood enters a front service that calls a back service: with and without propagation) Consumer (the process drains a backlog of report messages from a real rabbitmq-server) or Pressure (a report flood that would take the GC heap past its limit, and CPU-heavy reports on the ThreadPool, against Shed rules)." };
        var objectiveMs = new Option<double?>("--seat-objective-ms") { Description = "CostStep: the interactive seat-time objective, p99, in ms (default: none)." };
        var poolObjectiveMs = new Option<double?>("--pool-objective-ms") { Description = "CostStep: the ThreadPool delay objective, p99, in ms (default 2)." };
        var cold = new Option<bool>("--cold") { Description = "AdminStorm: the storm hits a fresh server (no warm-up storm first)." };
        var headroom = new Option<double?>("--headroom") { Description = "CostStep: the adaptive controller's Headroom (default 0.8)." };
        var downstream = new Option<bool>("--downstream") { Description = "CostStep: the reports' cost is in a shared downstream interactive calls use too (20 then 40 of 64 units), not the CPU; static limits 3 and 1, an interactive seat-time objective of 10 ms, 4 s to settle." };
        var threads = new Option<int?>("--threads") { Description = "CostStep: reports run on this many idle-priority threads of the reporting class's own (Execution), not the ThreadPool; 0 (default) for the ThreadPool." };
        var reportAwait = new Option<int?>("--report-await-ms") { Description = "CostStep: the await between a report's two halves of CPU (default 20)." };
        var reportCpu = new Option<double?>("--report-cpu-ms") { Description = "CostStep: a light report's CPU in ms, half on either side of the await (default 10); the step doubles it." };
        var lightLimit = new Option<int?>("--light-limit") { Description = "CostStep: the static limit tuned for light reports." };
        var heavyLimit = new Option<int?>("--heavy-limit") { Description = "CostStep: the static limit tuned for heavy reports." };
        var root = new RootCommand("Measures an interactive endpoint's latency under a report flood, with and without isolation.")
        {
            quick, duration, rate, clients, repetitions, modes, output, noChart, scenario, objectiveMs, poolObjectiveMs, cold, downstream, headroom, threads, reportAwait, reportCpu, lightLimit, heavyLimit,
        };
        root.SetAction(async (parse, ct) =>
        {
            LoadTestOptions defaults = parse.GetValue(quick) ? LoadTestOptions.Quick : new LoadTestOptions();
            if (parse.GetValue(downstream))
            {
                defaults = defaults.WithCostStepDownstream();
            }

            Mode[]? chosen = parse.GetValue(modes);

            // --modes applies to the scenario it names modes of; the others keep theirs.
            IReadOnlyList<Mode> ChosenFor(Scenario which, IReadOnlyList<Mode> defaultModes) =>
                chosen is { Length: > 0 } && parse.GetValue(scenario) == which ? chosen : defaultModes;
            LoadTestOptions options = defaults with
            {
                Duration = parse.GetValue(duration) is { } seconds ? TimeSpan.FromSeconds(seconds) : defaults.Duration,
                InteractiveRate = parse.GetValue(rate) ?? defaults.InteractiveRate,
                ReportClients = parse.GetValue(clients) ?? defaults.ReportClients,
                Repetitions = parse.GetValue(repetitions) ?? defaults.Repetitions,
                Modes = chosen is { Length: > 0 } ? chosen : defaults.Modes,
                OutputDirectory = parse.GetValue(output)!,
                Chart = !parse.GetValue(noChart),
                Scenario = parse.GetValue(scenario),
                SeatObjectiveMs = parse.GetValue(objectiveMs) ?? defaults.SeatObjectiveMs,
                PoolObjectiveMs = parse.GetValue(poolObjectiveMs) ?? defaults.PoolObjectiveMs,
                Headroom = parse.GetValue(headroom) ?? defaults.Headroom,
                CostStepThreads = parse.GetValue(threads) ?? defaults.CostStepThreads,
                ReportAwaitMs = parse.GetValue(reportAwait) ?? defaults.ReportAwaitMs,
                ReportCpuMs = parse.GetValue(reportCpu) ?? defaults.ReportCpuMs,
                LightLimit = parse.GetValue(lightLimit) ?? defaults.LightLimit,
                HeavyLimit = parse.GetValue(heavyLimit) ?? defaults.HeavyLimit,
                CostStepModes = ChosenFor(Scenario.CostStep, defaults.CostStepModes),
                AdminStormModes = ChosenFor(Scenario.AdminStorm, defaults.AdminStormModes),
                RejectionStormModes = ChosenFor(Scenario.RejectionStorm, defaults.RejectionStormModes),
                HotTenantModes = ChosenFor(Scenario.HotTenant, defaults.HotTenantModes),
                Cold = parse.GetValue(cold),
                StarvationModes = ChosenFor(Scenario.Starvation, defaults.StarvationModes),
                WeightedModes = ChosenFor(Scenario.Weighted, defaults.WeightedModes),
                SharedDownstreamModes = ChosenFor(Scenario.SharedDownstream, defaults.SharedDownstreamModes),
                TwoServicesModes = ChosenFor(Scenario.TwoServices, defaults.TwoServicesModes),
                ConsumerModes = ChosenFor(Scenario.Consumer, defaults.ConsumerModes),
                PressureModes = ChosenFor(Scenario.Pressure, defaults.PressureModes),
            };
            IAnsiConsole console = AnsiConsole.Console;
            if (Console.IsOutputRedirected)
            {
                // Written to a file or a pipe (CI logs): a line per line, never wrapped at 80 columns.
                console.Profile.Width = 1_000;
            }

            int exit = await RunDriverAsync(options, console, ct);
            if (parse.GetValue(quick))
            {
                // A 3-second phase is a few hundred interactive calls: its p99 is a handful of them, and one scheduler
                // hiccup moves a ratio by whole units. The figures the docs quote come from the full run.
                console.MarkupLine("[yellow]Quick runs are short and noisy: one repetition of 3-second phases, so a ratio can be off by a whole unit. For figures to compare, run the full form: dotnet run -c Release --project benchmarks/Bulkhead.LoadTest (3 repetitions of 10 s, medians).[/]");
            }

            return exit;
        });

        var mode = new Option<Mode>("--mode") { Description = "How the server protects its interactive endpoint.", Required = true };
        var iterations = new Option<double>("--iterations-per-ms") { Description = "The driver's CPU work calibration.", Required = true };
        var reportLimit = new Option<int>("--report-limit") { Description = "Cost step: the static reporting limit.", DefaultValueFactory = _ => 4 };
        var seatObjective = new Option<double>("--seat-objective-ms") { Description = "Cost step: the interactive seat-time objective (p99); 0 for none." };
        var poolObjective = new Option<double>("--pool-objective-ms") { Description = "Cost step: the ThreadPool delay objective (p99); 0 for none." };
        var serverDownstream = new Option<bool>("--downstream") { Description = "Cost step: the reports' cost is in a shared downstream." };
        var serverHeadroom = new Option<double>("--headroom") { Description = "Cost step: the adaptive controller's Headroom.", DefaultValueFactory = _ => 0.8 };
        var serverThreads = new Option<int>("--threads") { Description = "Cost step: how many idle-priority threads of its own the reporting class runs on; 0 for the ThreadPool." };
        var serverAwait = new Option<int>("--report-await-ms") { Description = "Cost step: the await between a report's two halves of CPU.", DefaultValueFactory = _ => 20 };
        var serverCpu = new Option<double>("--report-cpu-ms") { Description = "Cost step: a light report's CPU, half on either side of the await.", DefaultValueFactory = _ => 10 };
        var dependency = new Option<string?>("--dependency") { Description = "Shared downstream: the dependency's address; two services: the back service's; consumer: the broker's." };
        var server = new Command("server", "Runs the server under test (started by the driver).") { mode, iterations, reportLimit, seatObjective, poolObjective, serverDownstream, serverHeadroom, serverThreads, serverAwait, serverCpu, dependency };
        server.SetAction((parse, ct) => LoadTestServer.RunAsync(
            parse.GetValue(mode),
            parse.GetValue(iterations),
            new CostStepSettings(parse.GetValue(reportLimit), parse.GetValue(seatObjective), parse.GetValue(poolObjective), parse.GetValue(serverHeadroom), parse.GetValue(serverDownstream), parse.GetValue(serverThreads), parse.GetValue(serverAwait), parse.GetValue(serverCpu)),
            parse.GetValue(dependency) is { } address ? new Uri(address) : null,
            ct));
        root.Subcommands.Add(server);
        return await root.Parse(args).InvokeAsync();
    }

    public static async Task<int> RunDriverAsync(LoadTestOptions options, IAnsiConsole console, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(console);

        switch (options.Scenario)
        {
            case Scenario.All:
                return await RunEveryScenarioAsync(options, console, cancellationToken);
            case Scenario.Starvation:
                return await RunAsync(Starvation.StarvationRunner.RunAsync, Starvation.StarvationRunner.WriteAsync, options, console, cancellationToken);
            case Scenario.HotTenant:
                return await RunAsync(HotTenant.HotTenantRunner.RunAsync, HotTenant.HotTenantRunner.WriteAsync, options, console, cancellationToken);
            case Scenario.AdminStorm:
                return await RunAsync(AdminStorm.AdminStormRunner.RunAsync, AdminStorm.AdminStormRunner.WriteAsync, options, console, cancellationToken);
            case Scenario.RejectionStorm:
                return await RunAsync(RejectionStorm.RejectionStormRunner.RunAsync, RejectionStorm.RejectionStormRunner.WriteAsync, options, console, cancellationToken);
            case Scenario.Fleet:
                return await RunAsync(Fleet.FleetRunner.RunAsync, Fleet.FleetRunner.WriteAsync, options, console, cancellationToken);
            case Scenario.Weighted:
                return await RunAsync(Weighted.WeightedRunner.RunAsync, Weighted.WeightedRunner.WriteAsync, options, console, cancellationToken);
            case Scenario.SharedDownstream:
                return await RunAsync(SharedDownstream.SharedDownstreamRunner.RunAsync, SharedDownstream.SharedDownstreamRunner.WriteAsync, options, console, cancellationToken);
            case Scenario.TwoServices:
                return await RunAsync(TwoServices.TwoServicesRunner.RunAsync, TwoServices.TwoServicesRunner.WriteAsync, options, console, cancellationToken);
            case Scenario.Consumer:
                return await RunAsync(Consumer.ConsumerRunner.RunAsync, Consumer.ConsumerRunner.WriteAsync, options, console, cancellationToken);
            case Scenario.Pressure:
                return await RunAsync(Pressure.PressureRunner.RunAsync, Pressure.PressureRunner.WriteAsync, options, console, cancellationToken);
            case Scenario.CostStep:
                return await RunAsync(CostStep.CostStepRunner.RunAsync, CostStep.CostStepRunner.WriteAsync, options, console, cancellationToken);
            default:
                break;
        }

        IReadOnlyList<PhaseResult> results = await LoadTestRunner.RunAsync(options, console, cancellationToken);
        IReadOnlyList<ModeSummary> summaries = ModeSummary.From(results);
        string table = ResultsTable.ToMarkdown(summaries, results, options);
        Directory.CreateDirectory(options.OutputDirectory);
        await File.WriteAllTextAsync(Path.Combine(options.OutputDirectory, "results.md"), table, cancellationToken);
        await File.WriteAllLinesAsync(Path.Combine(options.OutputDirectory, "phases.csv"),
            ["mode,repetition,baseline,p50_ms,p99_ms,p999_ms,max_ms,reports_per_s,rejections,interactive_errors,server_cores,driver_cores",
             .. results.Select(r => string.Create(CultureInfo.InvariantCulture, $"{r.Mode},{r.Repetition},{r.IsBaseline},{r.P50:F2},{r.P99:F2},{r.P999:F2},{r.Max:F2},{r.ReportsPerSecond:F2},{r.Rejections},{r.InteractiveErrors},{r.ServerCores:F3},{r.DriverCores:F3}"))],
            cancellationToken);
        if (options.Chart)
        {
            Chart.Save(summaries, Path.Combine(options.OutputDirectory, "isolation.svg"));
        }

        // The table goes out unwrapped, whatever width the console reports, so it can be pasted as Markdown.
        console.Profile.Out.Writer.WriteLine();
        console.Profile.Out.Writer.WriteLine(table);
        console.MarkupLine($"Results in [bold]{Markup.Escape(Path.GetFullPath(options.OutputDirectory))}[/].");
        return 0;
    }

    /// <summary>A scenario other than the headline: its runs, then its results written out.</summary>
    private static async Task<int> RunAsync<T>(
        Func<LoadTestOptions, IAnsiConsole, CancellationToken, Task<IReadOnlyList<T>>> run,
        Func<IReadOnlyList<T>, LoadTestOptions, IAnsiConsole, CancellationToken, Task> write,
        LoadTestOptions options,
        IAnsiConsole console,
        CancellationToken cancellationToken)
    {
        IReadOnlyList<T> results = await run(options, console, cancellationToken);
        await write(results, options, console, cancellationToken);
        return 0;
    }

    /// <summary>
    /// Every scenario in turn, each in a short form (one repetition of 1.5-second phases; the headline and the cost step
    /// with a few of their modes): the whole tour took 145 s with the two-service scenario in it (measured with
    /// redis-server installed). Fleet runs only where redis-server is
    /// installed, Consumer only where rabbitmq-server is.
    /// </summary>
    private static async Task<int> RunEveryScenarioAsync(LoadTestOptions options, IAnsiConsole console, CancellationToken cancellationToken)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        LoadTestOptions brief = options with
        {
            Duration = TimeSpan.FromSeconds(1.5),
            Settle = TimeSpan.FromSeconds(1),
            Repetitions = 1,
            CostStepModes = [Mode.StaticTunedLight, Mode.AdaptiveAimd],
        };
        foreach (Scenario scenario in new[] { Scenario.Isolation, Scenario.AdminStorm, Scenario.Starvation, Scenario.HotTenant, Scenario.Weighted, Scenario.SharedDownstream, Scenario.TwoServices, Scenario.CostStep, Scenario.Fleet, Scenario.Consumer, Scenario.Pressure })
        {
            if (scenario == Scenario.Fleet && Bulkhead.TestUtils.RedisServer.Path is null)
            {
                console.MarkupLine($"[yellow]Fleet skipped:[/] {Markup.Escape(Bulkhead.TestUtils.RedisServer.Missing)}");
                continue;
            }

            if (scenario == Scenario.Consumer && Bulkhead.TestUtils.RabbitMqServer.Path is null)
            {
                console.MarkupLine($"[yellow]Consumer skipped:[/] {Markup.Escape(Bulkhead.TestUtils.RabbitMqServer.Missing)}");
                continue;
            }

            console.MarkupLine($"[bold]== {scenario} ==[/]");
            LoadTestOptions shortForm = brief with
            {
                Scenario = scenario,
                Modes = scenario == Scenario.Isolation ? [Mode.NoIsolation, Mode.AspNetLimiter2, Mode.BulkheadIdle] : brief.Modes,
            };
            await RunDriverAsync(shortForm, console, cancellationToken);
        }

        console.MarkupLine($"Every scenario in {clock.Elapsed.TotalSeconds:F0} s; the full runs and what they show are in docs/benchmarks.md.");
        return 0;
    }
}
