using Bulkhead.Options.Internal;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Bulkhead.AspNetCore.Options.Internal;

/// <summary>
/// The HTTP settings: the <c>Http</c> part of the <c>WorkloadIsolation</c> section first, then what code sets with
/// <c>ConfigureHttp</c>, validated together against a configuration's classes. Read when the pipeline is built, and
/// again for each reload (rules and trusted headers follow it).
/// </summary>
internal static class HttpSettings
{
    private static readonly WorkloadIsolationConfigurationCheck.Setting Shape =
        WorkloadIsolationConfigurationCheck.Setting.Of<WorkloadIsolationHttpOptions>(
            WorkloadIsolationConfigurationCheck.Setting.Of<WorkloadClassRule>(),
            WorkloadIsolationConfigurationCheck.Setting.Of<WorkloadPropagationOptions>());

    /// <summary>Reads the settings as they are now, checked against the classes of <paramref name="against"/>.</summary>
    /// <exception cref="OptionsValidationException">A setting is not one, a value does not parse, or the settings are not valid.</exception>
    public static WorkloadIsolationHttpOptions Read(IServiceProvider services, IWorkloadIsolationMonitor monitor, WorkloadIsolationOptions against)
    {
        List<IConfigureOptions<WorkloadIsolationHttpOptions>> setups = [.. services.GetServices<IConfigureOptions<WorkloadIsolationHttpOptions>>()];
        if (!setups.OfType<SectionBinding>().Any())
        {
            setups.Insert(0, new SectionBinding(monitor));
        }

        // Checked against the configuration given, whatever validator ConfigureHttp registered for start-up.
        List<IValidateOptions<WorkloadIsolationHttpOptions>> validators =
        [
            .. services.GetServices<IValidateOptions<WorkloadIsolationHttpOptions>>().Where(v => v is not WorkloadIsolationHttpOptionsValidator),
            new WorkloadIsolationHttpOptionsValidator(() => against),
        ];
        var factory = new OptionsFactory<WorkloadIsolationHttpOptions>(setups, services.GetServices<IPostConfigureOptions<WorkloadIsolationHttpOptions>>(), validators);
        return factory.Create(Microsoft.Extensions.Options.Options.DefaultName);
    }

    /// <summary>
    /// Binds the <c>Http</c> part of the section, checked first off <see cref="WorkloadIsolationHttpOptions"/>'s own shape:
    /// an unknown (misspelt) setting, a value that does not parse, a time span written as a bare number.
    /// </summary>
    internal sealed class SectionBinding(IWorkloadIsolationMonitor monitor) : IConfigureOptions<WorkloadIsolationHttpOptions>
    {
        public void Configure(WorkloadIsolationHttpOptions options)
        {
            if (monitor.Configuration?.GetSection("Http") is not { } section || !section.Exists())
            {
                return;
            }

            List<string> failures = WorkloadIsolationConfigurationCheck.Check(section, Shape, "WorkloadIsolation: Http");
            if (failures.Count > 0)
            {
                throw new OptionsValidationException(Microsoft.Extensions.Options.Options.DefaultName, typeof(WorkloadIsolationHttpOptions), failures);
            }

            section.Bind(options);
        }
    }
}
