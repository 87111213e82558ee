using System.Globalization;
using System.Text;

namespace Bulkhead.Telemetry.Internal;

/// <summary>
/// Text that came from a request or a caller (a class name a classifier returned, a partition key) as it may appear in
/// a log message: control characters (ESC, backspace, DEL, line breaks) and other characters a terminal or log viewer
/// would act on are written as <c>\u001B</c>-style escapes, so a client cannot forge log lines or recolour a console.
/// </summary>
internal static class LogText
{
    /// <summary>Gets how many characters of one value a message shows; the rest is cut and said to be.</summary>
    public const int MaxLength = 256;

    public static string Escape(string? text)
    {
        if (text is null)
        {
            return string.Empty;
        }

        if (text.Length <= MaxLength && !NeedsEscape(text))
        {
            return text;
        }

        var builder = new StringBuilder(Math.Min(text.Length, MaxLength) + 16);
        int shown = Math.Min(text.Length, MaxLength);
        for (int i = 0; i < shown; i++)
        {
            char ch = text[i];
            if (IsUnsafe(ch))
            {
                builder.Append(CultureInfo.InvariantCulture, $"\\u{(int)ch:X4}");
            }
            else
            {
                builder.Append(ch);
            }
        }

        if (text.Length > MaxLength)
        {
            builder.Append(CultureInfo.InvariantCulture, $"… ({text.Length} characters)");
        }

        return builder.ToString();
    }

    private static bool NeedsEscape(string text)
    {
        foreach (char ch in text)
        {
            if (IsUnsafe(ch))
            {
                return true;
            }
        }

        return false;
    }

    // C0 and C1 controls, DEL, and the format characters that reorder or hide text (bidirectional overrides, zero width).
    private static bool IsUnsafe(char ch) =>
        char.IsControl(ch) || ch == '\\' || CharUnicodeInfo.GetUnicodeCategory(ch) is UnicodeCategory.Format or UnicodeCategory.LineSeparator or UnicodeCategory.ParagraphSeparator;
}
