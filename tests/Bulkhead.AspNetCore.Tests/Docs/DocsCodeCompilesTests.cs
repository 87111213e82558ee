using System.Text;
using System.Text.RegularExpressions;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;

namespace Bulkhead.AspNetCore.Tests.Docs;

/// <summary>
/// Every C# block of README.md, the packages' README and docs/ compiles, as a newcomer pastes it into a web app: the usings of the page's
/// earlier blocks and of an ASP.NET Core project apply, and the names the prose gives (a builder, an app, a scheduler,
/// a token) are declared around it.
/// </summary>
public sealed partial class DocsCodeCompilesTests
{
    private static readonly string[] ImplicitUsings =
    [
        "System", "System.Collections.Generic", "System.IO", "System.Linq", "System.Net.Http", "System.Net.Http.Json",
        "System.Threading", "System.Threading.Tasks", "Microsoft.AspNetCore.Builder", "Microsoft.AspNetCore.Hosting",
        "Microsoft.AspNetCore.Http", "Microsoft.AspNetCore.Routing", "Microsoft.Extensions.Configuration",
        "Microsoft.Extensions.DependencyInjection", "Microsoft.Extensions.Hosting", "Microsoft.Extensions.Logging",
    ];

    // The names the docs' prose gives ("given IWorkloadScheduler scheduler, a string tenantId, ..."), declared before a block.
    private const string AppPrelude = """
        WebApplicationBuilder builder = WebApplication.CreateBuilder(args);
        WebApplication app = builder.Build();
        IConfiguration config = builder.Configuration;
        Bulkhead.IWorkloadScheduler scheduler = app.Services.GetRequiredService<Bulkhead.IWorkloadScheduler>();
        Bulkhead.IWorkloadJobQueue jobs = app.Services.GetRequiredService<Bulkhead.IWorkloadJobQueue>();
        """;

    private const string ValuesPrelude = """
        CancellationToken ct = default;
        CancellationToken cancellationToken = default;
        string tenantId = "tenant-1";
        int id = 1, report = 1, reportId = 1;
        object message = new();
        static string GetReport(int id) => $"report {id}";
        static Task RenderAsync(int id, CancellationToken ct) => Task.CompletedTask;
        static Task ExportAsync(CancellationToken ct) => Task.CompletedTask;
        """;

    private const string Types = """
        sealed class NightlyExport : BackgroundService
        {
            protected override Task ExecuteAsync(CancellationToken stoppingToken) => Task.CompletedTask;
        }

        sealed class ReportStore
        {
            public Task RenderAsync(int id, CancellationToken ct) => Task.CompletedTask;
        }
        """;

    public static TheoryData<string, int> Blocks()
    {
        var blocks = new TheoryData<string, int>();
        foreach ((string page, int line, _, _) in ReadBlocks())
        {
            blocks.Add(page, line);
        }

        return blocks;
    }

    [Theory]
    [MemberData(nameof(Blocks))]
    public void CodeBlock_Compiles(string page, int line)
    {
        (_, _, string code, IReadOnlyList<string> usings) = ReadBlocks().Single(b => b.Page == page && b.Line == line);
        string program = Program(code, usings);

        CSharpCompilation compilation = CSharpCompilation.Create(
            "DocsBlock",
            [CSharpSyntaxTree.ParseText(program, new CSharpParseOptions(LanguageVersion.Latest))],
            References.Value,
            new CSharpCompilationOptions(OutputKind.ConsoleApplication, nullableContextOptions: NullableContextOptions.Enable));
        Diagnostic[] errors = [.. compilation.GetDiagnostics().Where(d => d.Severity == DiagnosticSeverity.Error)];

        Assert.True(errors.Length == 0, $"{page}:{line} does not compile:{Environment.NewLine}{string.Join(Environment.NewLine, errors.Select(e => e.ToString()))}{Environment.NewLine}{program}");
    }

    private static readonly Lazy<MetadataReference[]> References = new(() =>
        [.. ((string)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES")!).Split(Path.PathSeparator)
            .Where(path => path.EndsWith(".dll", StringComparison.Ordinal))
            .Select(path => MetadataReference.CreateFromFile(path))]);

    private static string Program(string code, IReadOnlyList<string> usings)
    {
        var program = new StringBuilder();
        foreach (string name in ImplicitUsings)
        {
            program.Append("using ").Append(name).AppendLine(";");
        }

        foreach (string directive in usings)
        {
            program.AppendLine(directive);
        }

        // A block that makes its own app (a whole Program.cs) gets only the plain values.
        if (!code.Contains("WebApplicationBuilder builder", StringComparison.Ordinal))
        {
            program.AppendLine(AppPrelude);
        }

        program.AppendLine(ValuesPrelude);
        program.AppendLine(UsingDirective().Replace(code, string.Empty));
        program.AppendLine(Types);
        return program.ToString();
    }

    /// <summary>Every ```csharp block, with the using directives of the page's blocks up to and including it.</summary>
    private static IEnumerable<(string Page, int Line, string Code, IReadOnlyList<string> Usings)> ReadBlocks()
    {
        string root = Repository.Root;
        IEnumerable<string> pages =
        [
            Path.Combine(root, "README.md"),
            Path.Combine(root, "src", "PackageReadme.md"),
            .. Directory.GetFiles(Path.Combine(root, "docs"), "*.md").Order(StringComparer.Ordinal),
        ];
        foreach (string path in pages)
        {
            string text = File.ReadAllText(path);
            List<string> usings = [];
            foreach (Match block in CSharpBlock().Matches(text))
            {
                string code = block.Groups[1].Value;
                usings.AddRange(UsingDirective().Matches(code).Select(m => m.Value.Trim()).Where(u => !usings.Contains(u)));
                int line = text[..block.Index].Count(c => c == '\n') + 1;
                yield return (Path.GetRelativePath(root, path).Replace('\\', '/'), line, code, [.. usings]);
            }
        }
    }

    [GeneratedRegex(@"```csharp\n(.*?)```", RegexOptions.Singleline)]
    private static partial Regex CSharpBlock();

    [GeneratedRegex(@"^using\s+[A-Za-z_][\w.]*\s*;[^\n]*\n?", RegexOptions.Multiline)]
    private static partial Regex UsingDirective();
}
