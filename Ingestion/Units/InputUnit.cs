using Platform.Datasets;

namespace Platform.Ingestion.Units;

/// <summary>
/// A work unit's input: a whole file (<see cref="End"/> null), or a part of it planned by <see cref="InputSplitter"/>:
/// bytes [<see cref="Start"/>, <see cref="End"/>) of a WARC/WAT file (whole gzip members or whole records), the rows whose
/// line begins there in a delimited or JSON lines file, or the row groups whose first byte lies there in a Parquet file.
/// A file's parts cover it exactly, in order, so reading them one after another reads what the whole file holds.
/// </summary>
public sealed record InputUnit(string Input, long Start = 0, long? End = null)
{
    // Shown in statuses, errors and logs: a blob URL's SAS token stays out of them.
    public override string ToString() => End is { } end ? $"{SecretRedaction.RedactUrl(Input)} [{Start}, {end})" : SecretRedaction.RedactUrl(Input);
}
