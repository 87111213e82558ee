using Microsoft.Extensions.DependencyInjection;

namespace Bulkhead.DependencyInjection.Internal;

internal sealed class WorkloadIsolationBuilder(IServiceCollection services) : IWorkloadIsolationBuilder
{
    public IServiceCollection Services { get; } = services;
}
