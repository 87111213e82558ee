namespace Bulkhead.TestUtils;

/// <summary>The repository the tests run from, for tests that check the docs against the code.</summary>
public static class Repository
{
    /// <summary>Gets the folder that holds Bulkhead.sln, found above the test's directory.</summary>
    public static string Root { get; } = FindRoot();

    /// <summary>Reads a file of the repository, by its path from the root.</summary>
    /// <param name="parts">The path's parts, for example <c>"docs", "metrics.md"</c>.</param>
    /// <returns>The file's text.</returns>
    public static string ReadAllText(params string[] parts) => File.ReadAllText(Path.Combine([Root, .. parts]));

    private static string FindRoot()
    {
        for (DirectoryInfo? directory = new(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "Bulkhead.sln")))
            {
                return directory.FullName;
            }
        }

        throw new InvalidOperationException("Bulkhead.sln not found above the test's directory.");
    }
}
