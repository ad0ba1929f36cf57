using System.Text;

namespace Platform.Ingestion.Sources;

/// <summary>
/// Reads lines (ended by LF, CR or CRLF, as <see cref="TextReader.ReadLine"/> splits them) without ever
/// holding more than <c>maxChars</c> of one: the rest of a longer line is read past, not kept, so a 100 MB
/// line in a URL list costs a buffer, not 100 MB.
/// </summary>
internal sealed class BoundedLineReader(TextReader reader, int maxChars)
{
    private readonly char[] _buffer = new char[16384];
    private int _start;
    private int _end;
    private bool _ended;
    /// <summary>The last line ended with CR; a LF that follows belongs to that line end.</summary>
    private bool _skipLf;

    /// <summary>The next line, or null at the end; <c>TooLong</c> when it passed the limit (its text is then empty).</summary>
    public async ValueTask<(string? Line, bool TooLong)> ReadLineAsync(CancellationToken cancellationToken)
    {
        StringBuilder? line = null;
        var length = 0;
        var any = false;
        while (true)
        {
            if (_start == _end)
            {
                if (_ended) break;
                _start = 0;
                _end = await reader.ReadAsync(_buffer.AsMemory(), cancellationToken);
                if (_end == 0)
                {
                    _ended = true;
                    break;
                }
            }
            if (_skipLf)
            {
                _skipLf = false;
                if (_buffer[_start] == '\n')
                {
                    _start++;
                    continue;
                }
            }
            any = true;
            var span = _buffer.AsSpan(_start, _end - _start);
            var stop = span.IndexOfAny('\r', '\n');
            var take = stop < 0 ? span.Length : stop;
            if (length <= maxChars)
            {
                if (length + take <= maxChars) (line ??= new StringBuilder()).Append(span[..take]);
                else line = null;
                length += take;
            }
            if (stop < 0)
            {
                _start = _end;
                continue;
            }
            _skipLf = span[stop] == '\r';
            _start += stop + 1;
            break;
        }
        if (!any) return (null, false);
        return length > maxChars ? ("", true) : (line?.ToString() ?? "", false);
    }
}
