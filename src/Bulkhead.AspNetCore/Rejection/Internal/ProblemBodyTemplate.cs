using System.Buffers;
using System.IO.Pipelines;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Http;

namespace Bulkhead.AspNetCore.Rejection.Internal;

/// <summary>
/// The default problem details body of a refusal, written once per status and <c>Retry-After</c> by the same code as any
/// other body and kept as the bytes before and after its traceId: a storm of refusals writes each body by copying, with
/// its length known (no chunked encoding). Only for a traceId that needs no escaping in JSON (W3C trace ids and
/// ASP.NET Core's request ids do not); any other is written by <see cref="Utf8JsonWriter"/> as before.
/// </summary>
internal sealed class ProblemBodyTemplate
{
    // The Retry-After values kept (in seconds); a longer one is written each time.
    private const int Longest = 120;
    private const string Mark = "bulkhead-trace-id";

    private static readonly ProblemBodyTemplate?[] s_made = new ProblemBodyTemplate?[2 * (Longest + 2)];

    private readonly byte[] _before;
    private readonly byte[] _after;

    private ProblemBodyTemplate(byte[] before, byte[] after)
    {
        _before = before;
        _after = after;
    }

    /// <summary>The body of a refusal (429 when rate limited, else 503) that says to retry after <paramref name="retryAfter"/> seconds, or not to retry.</summary>
    public static ProblemBodyTemplate? For(bool rateLimited, long? retryAfter)
    {
        if (retryAfter is > Longest)
        {
            return null;
        }

        int index = (rateLimited ? Longest + 2 : 0) + (int)(retryAfter ?? Longest + 1);

        // Made at most a few times over by racing first refusals, all alike: no lock.
        return Volatile.Read(ref s_made[index]) ?? (s_made[index] = Make(rateLimited, retryAfter));
    }

    /// <summary>Writes the body with <paramref name="traceId"/> in place, unless it needs escaping.</summary>
    public bool TryWrite(HttpContext context, string traceId, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out Task? written)
    {
        if (!IsPlain(traceId))
        {
            written = null;
            return false;
        }

        HttpResponse response = context.Response;
        int length = _before.Length + traceId.Length + _after.Length;
        response.ContentType = "application/problem+json";
        response.ContentLength = length;
        PipeWriter body = response.BodyWriter;
        Span<byte> span = body.GetSpan(length);
        _before.CopyTo(span);
        int at = _before.Length + Encoding.ASCII.GetBytes(traceId, span[_before.Length..]);
        _after.CopyTo(span[at..]);
        body.Advance(length);
        ValueTask<FlushResult> flushing = body.FlushAsync(context.RequestAborted);
        written = flushing.IsCompletedSuccessfully ? Task.CompletedTask : flushing.AsTask();
        return true;
    }

    /// <summary>Whether <paramref name="traceId"/> is written in JSON as it is: letters, digits and <c>- . : _ |</c> only.</summary>
    internal static bool IsPlain(string traceId)
    {
        foreach (char c in traceId)
        {
            if (!char.IsAsciiLetterOrDigit(c) && c is not ('-' or '.' or ':' or '_' or '|'))
            {
                return false;
            }
        }

        return true;
    }

    private static ProblemBodyTemplate Make(bool rateLimited, long? retryAfter)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            RejectionWriter.WriteDefaultBody(writer, rateLimited, retryAfter, Mark);
        }

        ReadOnlySpan<byte> whole = buffer.WrittenSpan;
        int mark = whole.IndexOf(Encoding.ASCII.GetBytes(Mark));
        return new ProblemBodyTemplate(whole[..mark].ToArray(), whole[(mark + Mark.Length)..].ToArray());
    }
}
