using System.Diagnostics;

namespace Bulkhead.AspNetCore.Tests.Diagnostics;

/// <summary>
/// Debian's chromium, run headless. <c>./test.sh</c> installs it when absent and sets <c>BULKHEAD_REQUIRE_BROWSER=1</c>,
/// so that in CI a missing browser fails the test; a plain <c>dotnet test</c> without it reports the test as skipped,
/// saying why.
/// </summary>
internal static class Chromium
{
    private static readonly string[] s_knownPaths = ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"];

    public static readonly string? Path = Find();

    public static bool Required => Environment.GetEnvironmentVariable("BULKHEAD_REQUIRE_BROWSER") == "1";

    public const string Missing = "Debian's chromium is not installed: ./test.sh installs it (apt-get install chromium), or set CHROMIUM to a Chromium binary.";

    /// <summary>Runs the browser on <paramref name="arguments"/> and returns what it printed; fails on a non-zero exit or after <paramref name="bound"/>.</summary>
    public static async Task<string> RunAsync(IEnumerable<string> arguments, TimeSpan bound)
    {
        string path = Path ?? throw new InvalidOperationException(Missing);
        string profile = Directory.CreateTempSubdirectory("bulkhead-chromium-").FullName;
        var start = new ProcessStartInfo(path)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string argument in new[] { "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-extensions", "--disable-dev-shm-usage", $"--user-data-dir={profile}" }.Concat(arguments))
        {
            start.ArgumentList.Add(argument);
        }

        try
        {
            using Process process = Process.Start(start) ?? throw new InvalidOperationException($"{path} did not start.");
            Task<string> output = process.StandardOutput.ReadToEndAsync();
            Task<string> errors = process.StandardError.ReadToEndAsync();
            using var timeout = new CancellationTokenSource(bound);
            try
            {
                await process.WaitForExitAsync(timeout.Token);
            }
            catch (OperationCanceledException)
            {
                process.Kill(entireProcessTree: true);
                throw new TimeoutException($"chromium did not finish within {bound}: {await errors}");
            }

            Assert.True(process.ExitCode == 0, $"chromium exited with {process.ExitCode}: {await errors}");
            return await output;
        }
        finally
        {
            try
            {
                Directory.Delete(profile, recursive: true);
            }
            catch (IOException)
            {
                // The profile is a temporary folder; a file still held open is left to the system.
            }
        }
    }

    private static string? Find()
    {
        string? configured = Environment.GetEnvironmentVariable("CHROMIUM");
        if (!string.IsNullOrEmpty(configured))
        {
            return configured;
        }

        return s_knownPaths.FirstOrDefault(File.Exists);
    }
}

/// <summary>A fact that needs a real browser: skipped, with the reason, when none is installed and none is required.</summary>
[AttributeUsage(AttributeTargets.Method)]
internal sealed class BrowserFactAttribute : FactAttribute
{
    public BrowserFactAttribute()
    {
        if (Chromium.Path is null && !Chromium.Required)
        {
            Skip = Chromium.Missing;
        }
    }
}
