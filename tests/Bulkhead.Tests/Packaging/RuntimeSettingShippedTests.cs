using System.Diagnostics;
using System.Text.Json;

namespace Bulkhead.Tests.Packaging;

/// <summary>
/// The package sets the runtime's ThreadPool spin limit to 0 in the app that references it (buildTransitive), so that a
/// plain app gets the throughput of its low-priority classes without reading docs/jobs.md; the app can opt out, and a
/// value it sets itself wins. Packs the built Bulkhead project and builds a console app against it from a local folder.
/// </summary>
public sealed class RuntimeSettingShippedTests
{
    private const string SpinLimit = "System.Threading.ThreadPool.UnfairSemaphoreSpinLimit";

#if DEBUG
    private const string Configuration = "Debug";
#else
    private const string Configuration = "Release";
#endif

    [Theory]
    [InlineData("", 0)]
    [InlineData("<BulkheadSetThreadPoolSpinLimit>false</BulkheadSetThreadPoolSpinLimit>", null)]
    [InlineData("</PropertyGroup><ItemGroup><RuntimeHostConfigurationOption Include=\"" + SpinLimit + "\" Value=\"7\" /></ItemGroup><PropertyGroup>", 7)]
    public async Task AnAppReferencingThePackage_GetsTheSpinLimitInItsRuntimeConfig_UnlessItSaysOtherwise(string project, int? expected)
    {
        string work = Directory.CreateTempSubdirectory("bulkhead-package-").FullName;
        try
        {
            // A version of its own, so that the global packages folder never serves an older build of the package.
            string version = $"0.1.0-test.{Guid.NewGuid():N}";
            string feed = Path.Combine(work, "feed");
            await RunAsync(Repository.Root, "pack", Path.Combine("src", "Bulkhead"), "--no-build", "-c", Configuration, "-o", feed, $"-p:Version={version}");

            string app = Path.Combine(work, "app");
            Directory.CreateDirectory(app);
            await File.WriteAllTextAsync(Path.Combine(app, "nuget.config"), $"""
                <?xml version="1.0" encoding="utf-8"?>
                <configuration>
                  <packageSources>
                    <clear />
                    <add key="local" value="{feed}" />
                  </packageSources>
                </configuration>
                """);
            await File.WriteAllTextAsync(Path.Combine(app, "app.csproj"), $"""
                <Project Sdk="Microsoft.NET.Sdk">
                  <PropertyGroup>
                    <OutputType>Exe</OutputType>
                    <TargetFramework>net10.0</TargetFramework>
                    {project}
                  </PropertyGroup>
                  <ItemGroup>
                    <PackageReference Include="Bulkhead" Version="{version}" />
                  </ItemGroup>
                </Project>
                """);
            await File.WriteAllTextAsync(Path.Combine(app, "Program.cs"), "System.Console.WriteLine();");
            await RunAsync(app, "build", "-c", "Release");

            using JsonDocument config = JsonDocument.Parse(await File.ReadAllTextAsync(Path.Combine(app, "bin", "Release", "net10.0", "app.runtimeconfig.json")));
            JsonElement properties = config.RootElement.GetProperty("runtimeOptions").TryGetProperty("configProperties", out JsonElement p) ? p : default;
            int? actual = properties.ValueKind == JsonValueKind.Object && properties.TryGetProperty(SpinLimit, out JsonElement value) ? value.GetInt32() : null;
            Assert.Equal(expected, actual);
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }
    }

    private static async Task RunAsync(string directory, params string[] arguments)
    {
        var start = new ProcessStartInfo("dotnet") { WorkingDirectory = directory, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        // The app is built as a user would build it, not as part of this solution's build.
        start.Environment.Remove("MSBuildExtensionsPath");
        start.Environment.Remove("MSBUILD_EXE_PATH");
        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        start.Environment["DOTNET_NOLOGO"] = "1";
        using Process process = Process.Start(start) ?? throw new InvalidOperationException("dotnet did not start.");
        Task<string> output = process.StandardOutput.ReadToEndAsync();
        Task<string> error = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromMinutes(3));
        Assert.True(process.ExitCode == 0, $"dotnet {string.Join(' ', arguments)} failed ({process.ExitCode}):\n{await output}\n{await error}");
    }
}
