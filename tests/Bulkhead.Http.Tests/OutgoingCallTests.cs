using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace Bulkhead.Http.Tests;

/// <summary>
/// Outgoing calls under a workload class: clients that call one dependency share its seats, a refused call never
/// reaches the network, and every seat taken is freed however the call ends.
/// </summary>
public sealed class OutgoingCallTests : IDisposable
{
    private readonly FakeTimeProvider _time = new();
    private ServiceProvider? _services;

    public void Dispose() => _services?.Dispose();

    [Fact]
    public async Task TwoClients_ShareTheirDependencysSeats_AndARefusedCallNeverReachesIt()
    {
        var payments = new Dependency();
        IHttpClientFactory clients = Build(
            c => { c.MaxConcurrency = 1; c.QueueLimit = 0; },
            services =>
            {
                services.AddHttpClient("checkout").ConfigurePrimaryHttpMessageHandler(() => payments).AddWorkloadIsolation("payments-api");
                services.AddHttpClient("refunds").ConfigurePrimaryHttpMessageHandler(() => payments).AddWorkloadIsolation("payments-api");
            });

        Task<HttpResponseMessage> checkout = clients.CreateClient("checkout").GetAsync(new Uri("http://payments/charge"));
        await payments.ArrivalsAsync(1);
        WorkloadRejectedException refused = await Assert.ThrowsAsync<WorkloadRejectedException>(
            () => clients.CreateClient("refunds").GetAsync(new Uri("http://payments/refund")).WithTimeout());

        Assert.Equal(("payments-api", WorkloadRejectionReason.QueueFull), (refused.WorkloadClass, refused.Reason));
        Assert.Equal(1, payments.Reached);
        Assert.Equal(1, Snapshot().InFlight);

        payments.AnswerOne();
        Assert.Equal(HttpStatusCode.OK, (await checkout.WithTimeout()).StatusCode);
        Assert.Equal(0, Snapshot().InFlight);

        Task<HttpResponseMessage> refund = clients.CreateClient("refunds").GetAsync(new Uri("http://payments/refund"));
        await payments.ArrivalsAsync(2);
        payments.AnswerOne();
        Assert.Equal(HttpStatusCode.OK, (await refund.WithTimeout()).StatusCode);
        Assert.Equal((2L, 1L, 0), (Snapshot().Admitted, Snapshot().Rejected, Snapshot().InFlight));
    }

    [Fact]
    public async Task Respond_ARefusedCallIsA503WithRetryAfter_MadeWithoutTheNetwork()
    {
        var payments = new Dependency();
        IHttpClientFactory clients = Checkout(payments, c => { c.MaxConcurrency = 1; c.QueueLimit = 0; }, WorkloadHttpRejectionMode.Respond);
        HttpClient client = clients.CreateClient("checkout");

        Task<HttpResponseMessage> first = client.GetAsync(new Uri("http://payments/charge"));
        await payments.ArrivalsAsync(1);
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri("http://payments/charge"));
        using HttpResponseMessage refused = await client.SendAsync(request).WithTimeout();

        Assert.Equal(HttpStatusCode.ServiceUnavailable, refused.StatusCode);
        Assert.Equal(TimeSpan.FromSeconds(1), refused.Headers.RetryAfter?.Delta);
        Assert.Same(request, refused.RequestMessage);
        Assert.Contains("payments-api", refused.ReasonPhrase, StringComparison.Ordinal);
        Assert.Equal(1, payments.Reached);

        payments.AnswerOne();
        Assert.Equal(HttpStatusCode.OK, (await first.WithTimeout()).StatusCode);
    }

    [Fact]
    public async Task Respond_ARateLimitedCallIsA429_WithTheTimeUntilAPermit()
    {
        var payments = new Dependency { Holds = false };
        IHttpClientFactory clients = Checkout(payments, c => c.RateLimit = new WorkloadRateLimitOptions { PermitsPerSecond = 0.5, Burst = 1 }, WorkloadHttpRejectionMode.Respond);
        HttpClient client = clients.CreateClient("checkout");

        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync(new Uri("http://payments/charge")).WithTimeout()).StatusCode);
        using HttpResponseMessage limited = await client.GetAsync(new Uri("http://payments/charge")).WithTimeout();

        Assert.Equal(HttpStatusCode.TooManyRequests, limited.StatusCode);
        Assert.Equal(TimeSpan.FromSeconds(2), limited.Headers.RetryAfter?.Delta);
        Assert.Equal(1, payments.Reached);
    }

    [Fact]
    public async Task AQueuedCall_IsSentWhenASeatFrees_AndOneCanceledWhileQueuedIsNeverSent()
    {
        var payments = new Dependency();
        IHttpClientFactory clients = Checkout(payments, c => { c.MaxConcurrency = 1; c.QueueLimit = 2; });
        HttpClient client = clients.CreateClient("checkout");

        Task<HttpResponseMessage> first = client.GetAsync(new Uri("http://payments/1"));
        await payments.ArrivalsAsync(1);
        Task<HttpResponseMessage> second = client.GetAsync(new Uri("http://payments/2"));
        using var leaving = new CancellationTokenSource();
        Task<HttpResponseMessage> third = client.GetAsync(new Uri("http://payments/3"), leaving.Token);
        await Eventually.TrueAsync(() => Snapshot().Queued == 2, "two calls wait for the seat");

        await leaving.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => third.WithTimeout());
        Assert.Equal(1, Snapshot().Queued);

        payments.AnswerOne();
        await first.WithTimeout();
        await payments.ArrivalsAsync(2);
        payments.AnswerOne();
        await second.WithTimeout();

        Assert.Equal(2, payments.Reached);
        WorkloadClassSnapshot after = Snapshot();
        Assert.Equal((0, 0, 2L, 1L), (after.InFlight, after.Queued, after.Admitted, after.Canceled));
    }

    [Fact]
    public async Task AFailedCall_FreesItsSeat()
    {
        var payments = new Dependency { Fails = new HttpRequestException("connection refused") };
        IHttpClientFactory clients = Checkout(payments, c => { c.MaxConcurrency = 1; c.QueueLimit = 0; });

        for (int i = 0; i < 3; i++)
        {
            await Assert.ThrowsAsync<HttpRequestException>(() => clients.CreateClient("checkout").GetAsync(new Uri("http://payments/charge")).WithTimeout());
        }

        Assert.Equal((3, 0, 3L), (payments.Reached, Snapshot().InFlight, Snapshot().Admitted));
    }

    [Fact]
    public async Task TheClassesExecutionTimeout_CancelsACallThatHoldsItsSeatTooLong()
    {
        var payments = new Dependency();
        IHttpClientFactory clients = Checkout(payments, c => c.Execution = new WorkloadExecutionOptions { Timeout = TimeSpan.FromSeconds(5) });

        Task<HttpResponseMessage> call = clients.CreateClient("checkout").GetAsync(new Uri("http://payments/slow"));
        await payments.ArrivalsAsync(1);
        _time.Advance(TimeSpan.FromSeconds(5));

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => call.WithTimeout());
        Assert.Equal((0, 1L), (Snapshot().InFlight, Snapshot().ExecutionTimeouts));
    }

    [Fact]
    public async Task PartitionProvider_CapsEachTenantOnItsOwn()
    {
        var payments = new Dependency();
        IHttpClientFactory clients = Checkout(
            payments,
            c => { c.MaxConcurrencyPerPartition = 1; c.QueueLimit = 0; },
            WorkloadHttpRejectionMode.Respond,
            request => request.Headers.TryGetValues("X-Tenant", out IEnumerable<string>? tenant) ? tenant.Single() : null);
        HttpClient client = clients.CreateClient("checkout");

        Task<HttpResponseMessage> a1 = client.SendAsync(ForTenant("a"));
        await payments.ArrivalsAsync(1);
        Task<HttpResponseMessage> b1 = client.SendAsync(ForTenant("b"));
        await payments.ArrivalsAsync(2);
        using HttpResponseMessage a2 = await client.SendAsync(ForTenant("a")).WithTimeout();

        Assert.Equal(HttpStatusCode.ServiceUnavailable, a2.StatusCode);
        Assert.Equal(2, payments.Reached);
        payments.AnswerOne();
        payments.AnswerOne();
        await Task.WhenAll(a1, b1).WithTimeout();
    }

    [Fact]
    public void SynchronousSend_TakesASeatToo()
    {
        var payments = new Dependency();
        IHttpClientFactory clients = Checkout(payments, c => { c.MaxConcurrency = 1; c.QueueLimit = 0; }, WorkloadHttpRejectionMode.Respond);
        HttpClient client = clients.CreateClient("checkout");

        using (WorkloadLease held = Scheduler.TryAcquire("payments-api"))
        {
            Assert.True(held.IsAcquired);
            using HttpResponseMessage refused = client.Send(new HttpRequestMessage(HttpMethod.Get, new Uri("http://payments/charge")));
            Assert.Equal((HttpStatusCode.ServiceUnavailable, 0), (refused.StatusCode, payments.Reached));
        }

        using HttpResponseMessage sent = client.Send(new HttpRequestMessage(HttpMethod.Get, new Uri("http://payments/charge")));
        Assert.Equal((HttpStatusCode.OK, 1, 0), (sent.StatusCode, payments.Reached, Snapshot().InFlight));
    }

    [Fact]
    public void AClassThatIsNotConfigured_FailsCreateClient_NamingTheClasses()
    {
        IHttpClientFactory clients = Build(_ => { }, services => services.AddHttpClient("checkout").AddWorkloadIsolation("payment-api"));

        ArgumentException failure = Assert.Throws<ArgumentException>(() => clients.CreateClient("checkout"));

        Assert.Contains("'payment-api' is not a configured workload class", failure.Message, StringComparison.Ordinal);
        Assert.Contains("'payments-api'", failure.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void NoClassNamed_FailsWhereTheClientIsConfigured()
    {
        var services = new ServiceCollection();

        ArgumentException failure = Assert.Throws<ArgumentException>(() => services.AddHttpClient("checkout").AddWorkloadIsolation(_ => { }));
        Assert.Contains("HttpClient 'checkout'", failure.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => services.AddHttpClient("checkout").AddWorkloadIsolation(" "));
        Assert.Throws<ArgumentException>(() => services.AddHttpClient("checkout").AddWorkloadIsolation(o => { o.WorkloadClass = "x"; o.RejectionMode = (WorkloadHttpRejectionMode)7; }));
    }

    private IWorkloadScheduler Scheduler => _services!.GetRequiredService<IWorkloadScheduler>();

    [Fact]
    public async Task AReportsCalls_TakeTheDependencysSeatsForReports_AndAUsersTheOthers()
    {
        // One client; the dependency's seats in two classes: a report's calls (the work making them is "reporting") go
        // to "payments-reports", of one seat and no queue; everyone else's to "payments-api".
        var payments = new Dependency();
        var services = new ServiceCollection();
        services.AddSingleton<TimeProvider>(_time);
        services.AddWorkloadIsolation(o =>
        {
            o.TotalConcurrency = 8;
            o.DefaultClass = "interactive";
            o.AddClass("interactive", c => c.Priority = 0);
            o.AddClass("reporting", c => c.Priority = 2);
            o.AddClass("payments-api", c => (c.Priority, c.ReservedConcurrency) = (1, 2));
            o.AddClass("payments-reports", c => (c.Priority, c.MaxConcurrency, c.QueueLimit) = (2, 1, 0));
        });
        services.AddHttpClient("payments").ConfigurePrimaryHttpMessageHandler(() => payments).AddWorkloadIsolation(o =>
        {
            o.WorkloadClass = "payments-api";
            o.ClassesByCaller["reporting"] = "payments-reports";
        });
        _services = services.BuildServiceProvider();
        HttpClient client = _services.GetRequiredService<IHttpClientFactory>().CreateClient("payments");

        Task<HttpResponseMessage> report = Task.Run(() =>
        {
            WorkloadContext.Current = new WorkloadContext("reporting");
            return client.GetAsync(new Uri("http://payments/statement"));
        });
        await payments.ArrivalsAsync(1);
        WorkloadRejectedException secondReport = await Assert.ThrowsAsync<WorkloadRejectedException>(() => Task.Run(() =>
        {
            WorkloadContext.Current = new WorkloadContext("reporting");
            return client.GetAsync(new Uri("http://payments/statement"));
        }).WithTimeout());
        Task<HttpResponseMessage> user = client.GetAsync(new Uri("http://payments/charge"));
        await payments.ArrivalsAsync(2);

        Assert.Equal("payments-reports", secondReport.WorkloadClass);
        Assert.Equal((1, 1), (Scheduler.GetSnapshot()["payments-reports"].InFlight, Scheduler.GetSnapshot()["payments-api"].InFlight));
        payments.AnswerOne();
        payments.AnswerOne();
        Assert.All(await Task.WhenAll(report, user).WithTimeout(), answer => Assert.Equal(HttpStatusCode.OK, answer.StatusCode));
    }

    [Fact]
    public void AClassByCallerThatIsNotConfigured_FailsCreateClient()
    {
        var services = new ServiceCollection();
        services.AddWorkloadIsolation(o => o.AddClass("default"));
        services.AddHttpClient("payments").AddWorkloadIsolation(o =>
        {
            o.WorkloadClass = "default";
            o.ClassesByCaller["reporting"] = "payments-reportz";
        });
        _services = services.BuildServiceProvider();

        var failure = Assert.ThrowsAny<Exception>(() => _services.GetRequiredService<IHttpClientFactory>().CreateClient("payments"));
        Assert.Contains("payments-reportz", failure.Message, StringComparison.Ordinal);
    }

    private WorkloadClassSnapshot Snapshot() => Scheduler.GetSnapshot()["payments-api"];

    private static HttpRequestMessage ForTenant(string tenant)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, new Uri("http://payments/charge"));
        request.Headers.Add("X-Tenant", tenant);
        return request;
    }

    /// <summary>The client "checkout", whose calls to <paramref name="payments"/> take seats of the class "payments-api".</summary>
    private IHttpClientFactory Checkout(Dependency payments, Action<WorkloadClassOptions> dependency, WorkloadHttpRejectionMode mode = WorkloadHttpRejectionMode.Throw, Func<HttpRequestMessage, string?>? partition = null) =>
        Build(dependency, services => services.AddHttpClient("checkout").ConfigurePrimaryHttpMessageHandler(() => payments).AddWorkloadIsolation(o =>
        {
            o.WorkloadClass = "payments-api";
            o.RejectionMode = mode;
            o.PartitionProvider = partition;
        }));

    private IHttpClientFactory Build(Action<WorkloadClassOptions> dependency, Action<IServiceCollection> clients)
    {
        var services = new ServiceCollection();
        services.AddSingleton<TimeProvider>(_time);
        services.AddWorkloadIsolation(o =>
        {
            o.TotalConcurrency = 8;
            o.DefaultClass = "interactive";
            o.AddClass("interactive", c => c.Priority = 0);
            o.AddClass("payments-api", c =>
            {
                c.Priority = 1;
                c.QueueTimeout = Timeout.InfiniteTimeSpan;
                dependency(c);
            });
        });
        clients(services);
        _services = services.BuildServiceProvider();
        return _services.GetRequiredService<IHttpClientFactory>();
    }
}
