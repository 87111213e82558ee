using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;

namespace Bulkhead.AspNetCore.Tests.Builder;

public sealed class WorkloadIsolationApplicationBuilderExtensionsTests
{
    [Fact]
    public void UseWorkloadIsolation_ServicesMissing_ThrowsNamingAddWorkloadIsolation()
    {
        using ServiceProvider services = new ServiceCollection().BuildServiceProvider();
        var app = new ApplicationBuilder(services);

        InvalidOperationException exception = Assert.Throws<InvalidOperationException>(() => app.UseWorkloadIsolation());

        Assert.Contains("AddWorkloadIsolation", exception.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void WithWorkloadClass_BlankName_Throws()
    {
        Assert.ThrowsAny<ArgumentException>(() => new WorkloadClassAttribute(" "));
    }
}
