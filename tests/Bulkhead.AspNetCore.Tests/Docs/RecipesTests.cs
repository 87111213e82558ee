using System.Text;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Bulkhead.AspNetCore.Tests.Docs;

/// <summary>Every configuration docs/recipes.md gives to copy starts: read strictly, validated, and put in force.</summary>
public sealed partial class RecipesTests
{
    [Fact]
    public void EveryRecipeConfiguration_StartsAsWritten()
    {
        string[] blocks = [.. JsonBlock().Matches(Repository.ReadAllText("docs", "recipes.md")).Select(m => m.Groups["json"].Value.Trim())];
        Assert.True(blocks.Length >= 4, "recipes.md gives its configurations as JSON blocks.");
        foreach (string block in blocks)
        {
            // A whole section as it is written, or one class of it (a fragment, put in a section of its own).
            string json = block.StartsWith("\"WorkloadIsolation\"", StringComparison.Ordinal)
                ? "{" + block + "}"
                : "{ \"WorkloadIsolation\": { \"DefaultClass\": \"" + FirstKey().Match(block).Groups["name"].Value + "\", \"Classes\": {" + block + "} } }";
            IConfiguration configuration = new ConfigurationBuilder().AddJsonStream(new MemoryStream(Encoding.UTF8.GetBytes(json))).Build();
            using ServiceProvider provider = new ServiceCollection()
                .AddWorkloadIsolation(configuration.GetSection("WorkloadIsolation")).Services
                .BuildServiceProvider();

            provider.GetRequiredService<IStartupValidator>().Validate();
            Assert.NotEmpty(provider.GetRequiredService<IWorkloadScheduler>().GetSnapshot().Classes);
        }
    }

    [GeneratedRegex("```json\\n(?<json>.*?)```", RegexOptions.Singleline)]
    private static partial Regex JsonBlock();

    [GeneratedRegex("^\"(?<name>[^\"]+)\"")]
    private static partial Regex FirstKey();
}
