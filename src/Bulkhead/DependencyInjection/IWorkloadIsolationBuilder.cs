using Microsoft.Extensions.DependencyInjection;

namespace Bulkhead;

/// <summary>
/// Configures workload isolation further after <c>AddWorkloadIsolation</c>.
/// </summary>
public interface IWorkloadIsolationBuilder
{
    /// <summary>Gets the services being configured.</summary>
    IServiceCollection Services { get; }
}
