namespace Bulkhead.Jobs.Internal;

/// <summary>The workload class a wrapped hosted service runs in.</summary>
internal sealed class WorkloadHostedServiceRegistration<TService>(string workloadClass)
{
    public string WorkloadClass { get; } = workloadClass;
}
