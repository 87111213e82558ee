using Bulkhead.Options.Internal;
using Microsoft.Extensions.Options;

namespace Bulkhead.Tests.Options;

public sealed class WorkloadIsolationOptionsValidatorTests
{
    private readonly WorkloadIsolationOptionsValidator _validator = new();

    [Fact]
    public void Validate_Defaults_Succeeds()
    {
        ValidateOptionsResult result = _validator.Validate(null, new WorkloadIsolationOptions());

        Assert.True(result.Succeeded);
    }

    [Fact]
    public void Validate_TypicalConfiguration_Succeeds()
    {
        var options = new WorkloadIsolationOptions { TotalConcurrency = 64, DefaultClass = "interactive" }
            .AddClass("interactive", c => { c.ReservedConcurrency = 32; c.MaxConcurrency = 64; })
            .AddClass("reporting", c => { c.Priority = 2; c.MaxConcurrency = 8; })
            .AddClass("batch", c => { c.Priority = 3; c.ReservedConcurrency = 1; c.MaxConcurrency = 4; c.QueueTimeout = Timeout.InfiniteTimeSpan; });

        Assert.True(_validator.Validate(null, options).Succeeded);
    }

    [Fact]
    public void Validate_ReservedAboveMax_NamesClassAndField()
    {
        var options = new WorkloadIsolationOptions { TotalConcurrency = 16, DefaultClass = "batch" }
            .AddClass("batch", c => { c.ReservedConcurrency = 8; c.MaxConcurrency = 4; });

        ValidateOptionsResult result = _validator.Validate(null, options);

        Assert.Equal(["Workload class 'batch': ReservedConcurrency (8) exceeds MaxConcurrency (4)."], result.Failures);
    }

    [Fact]
    public void Validate_MaxAboveTotal_NamesClassAndField()
    {
        var options = new WorkloadIsolationOptions { TotalConcurrency = 8, DefaultClass = "reporting" }
            .AddClass("reporting", c => c.MaxConcurrency = 9);

        ValidateOptionsResult result = _validator.Validate(null, options);

        Assert.Equal(["Workload class 'reporting': MaxConcurrency (9) exceeds TotalConcurrency (8)."], result.Failures);
    }

    [Fact]
    public void Validate_ReservationsAboveTotal_Fails()
    {
        var options = new WorkloadIsolationOptions { TotalConcurrency = 4, DefaultClass = "a" }
            .AddClass("a", c => c.ReservedConcurrency = 3)
            .AddClass("b", c => c.ReservedConcurrency = 2);

        ValidateOptionsResult result = _validator.Validate(null, options);

        Assert.Equal(["WorkloadIsolation: the classes' ReservedConcurrency adds up to 5, more than TotalConcurrency (4)."], result.Failures);
    }

    [Fact]
    public void Validate_DefaultClassNotConfigured_NamesItAndTheConfiguredClasses()
    {
        var options = new WorkloadIsolationOptions().AddClass("interactive").AddClass("batch");

        ValidateOptionsResult result = _validator.Validate(null, options);

        Assert.Equal(["WorkloadIsolation: DefaultClass 'default' is not a configured class (configured: 'interactive', 'batch')."], result.Failures);
    }

    [Fact]
    public void Validate_OutOfRangeFields_NamesClassAndField()
    {
        var options = new WorkloadIsolationOptions { TotalConcurrency = 4, DefaultClass = "batch" }
            .AddClass("batch", c => { c.Priority = -1; c.QueueLimit = -5; c.MaxConcurrency = 0; c.QueueTimeout = TimeSpan.FromSeconds(-1); c.QueueOrder = (WorkloadQueueOrder)7; });

        string[] failures = [.. _validator.Validate(null, options).Failures!];

        Assert.Contains(failures, f => f.StartsWith("Workload class 'batch': Priority (-1) is out of range.", StringComparison.Ordinal));
        Assert.Contains(failures, f => f.StartsWith("Workload class 'batch': QueueLimit (-5) is out of range.", StringComparison.Ordinal));
        Assert.Contains(failures, f => f.StartsWith("Workload class 'batch': MaxConcurrency (0) is out of range.", StringComparison.Ordinal));
        Assert.Contains("Workload class 'batch': QueueTimeout (-00:00:01) must be zero or positive and under 49 days, or Timeout.InfiniteTimeSpan.", failures);
        Assert.Contains("Workload class 'batch': QueueOrder (7) must be Fifo or Lifo.", failures);
    }

    [Fact]
    public void Validate_TotalConcurrencyZero_Fails()
    {
        ValidateOptionsResult result = _validator.Validate(null, new WorkloadIsolationOptions { TotalConcurrency = 0 });

        Assert.StartsWith("WorkloadIsolation: TotalConcurrency (0) is out of range.", Assert.Single(result.Failures!), StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_ManyProblems_ReportsThemAllAtOnce()
    {
        var options = new WorkloadIsolationOptions { TotalConcurrency = 4, DefaultClass = "missing" }
            .AddClass("a", c => { c.ReservedConcurrency = 3; c.MaxConcurrency = 2; })
            .AddClass("b", c => { c.ReservedConcurrency = 2; c.MaxConcurrency = 5; });

        string[] failures = [.. _validator.Validate(null, options).Failures!];

        Assert.Equal(4, failures.Length);
        Assert.Contains("Workload class 'a': ReservedConcurrency (3) exceeds MaxConcurrency (2).", failures);
        Assert.Contains("Workload class 'b': MaxConcurrency (5) exceeds TotalConcurrency (4).", failures);
        Assert.Contains(failures, f => f.StartsWith("WorkloadIsolation: DefaultClass 'missing'", StringComparison.Ordinal));
        Assert.Contains(failures, f => f.Contains("adds up to 5", StringComparison.Ordinal));
    }

    [Fact]
    public void Validate_RateLimitWithoutRate_NamesClassAndField()
    {
        var options = new WorkloadIsolationOptions { DefaultClass = "reporting" }
            .AddClass("reporting", c => c.RateLimit = new WorkloadRateLimitOptions { Burst = 0 });

        string[] failures = [.. _validator.Validate(null, options).Failures!];

        Assert.Equal(2, failures.Length);
        Assert.Contains(failures, f => f.StartsWith("Workload class 'reporting': RateLimit: PermitsPerSecond (0) is out of range.", StringComparison.Ordinal));
        Assert.Contains(failures, f => f.StartsWith("Workload class 'reporting': RateLimit: Burst (0) is out of range.", StringComparison.Ordinal));
    }

    [Fact]
    public void Validate_ExecutionOutOfRange_NamesClassAndField()
    {
        var options = new WorkloadIsolationOptions { DefaultClass = "batch" }
            .AddClass("batch", c => c.Execution = new WorkloadExecutionOptions { DedicatedThreads = -1, CpuPriority = (WorkloadCpuPriority)9 });

        string[] failures = [.. _validator.Validate(null, options).Failures!];

        Assert.Equal(2, failures.Length);
        Assert.StartsWith("Workload class 'batch': Execution: DedicatedThreads (-1) is out of range.", failures[0], StringComparison.Ordinal);
        Assert.Equal("Workload class 'batch': Execution: CpuPriority (9) must be Normal, BelowNormal, Lowest or Idle.", failures[1]);
    }
}
