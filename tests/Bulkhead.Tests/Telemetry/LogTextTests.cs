using Bulkhead.Telemetry.Internal;

namespace Bulkhead.Tests.Telemetry;

public sealed class LogTextTests
{
    [Theory]
    [InlineData("tenant-42", "tenant-42")]
    [InlineData("rapports-é", "rapports-é")]
    [InlineData("a\u001b[31mred", "a\\u001B[31mred")]
    [InlineData("line\r\nforged\b\u007f", "line\\u000D\\u000Aforged\\u0008\\u007F")]
    [InlineData("back\\slash", "back\\u005Cslash")]
    [InlineData("bidi\u202eoverride", "bidi\\u202Eoverride")]
    public void Escape_ControlAndFormatCharacters_AreWrittenAsEscapes(string text, string expected) =>
        Assert.Equal(expected, LogText.Escape(text));

    [Fact]
    public void Escape_LongText_IsCutSayingHowLongItWas()
    {
        string escaped = LogText.Escape(new string('k', 8192));

        Assert.Equal(LogText.MaxLength + "… (8192 characters)".Length, escaped.Length);
        Assert.EndsWith("… (8192 characters)", escaped, StringComparison.Ordinal);
    }
}
