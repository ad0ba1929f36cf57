using System.Text;
using System.Text.Json;

namespace Platform.Ingestion.Pipeline;

/// <summary>
/// One JSON object per line, with relaxed escaping, so every JSON-lines file of the platform compares byte for byte
/// whichever executor wrote it. Lines are built in memory and written to a buffered stream; flushing the JSON writer
/// straight into the file would flush the file on every line.
/// </summary>
public sealed class JsonLinesWriter : IDisposable
{
    private readonly FileStream stream;
    private readonly System.Buffers.ArrayBufferWriter<byte> line = new(4096);
    private readonly Utf8JsonWriter json;

    public JsonLinesWriter(string path, FileMode mode = FileMode.Create)
    {
        stream = new FileStream(path, mode, FileAccess.Write, FileShare.ReadWrite, 1 << 16);
        json = new Utf8JsonWriter(line, new JsonWriterOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping });
    }

    public void Line(Action<Utf8JsonWriter> write)
    {
        write(json);
        json.Flush();
        stream.Write(line.WrittenSpan);
        stream.WriteByte((byte)'\n');
        line.ResetWrittenCount();
        json.Reset(line);
    }

    /// <summary>A line that is already JSON (read from another JSON-lines file), written as it is.</summary>
    public void RawLine(string jsonLine)
    {
        stream.Write(Encoding.UTF8.GetBytes(jsonLine));
        stream.WriteByte((byte)'\n');
    }

    /// <summary>Appends a whole JSON-lines file as it is.</summary>
    public void Append(string path)
    {
        using var input = File.OpenRead(path);
        input.CopyTo(stream);
    }

    public void Flush() => stream.Flush();

    public void Dispose()
    {
        json.Dispose();
        stream.Dispose();
    }
}
