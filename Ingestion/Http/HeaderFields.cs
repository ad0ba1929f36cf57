using System.Text;

namespace Platform.Ingestion.Http;

/// <summary>
/// Header fields as they are read line by line, obsolete line folding included: a continuation line is
/// appended to its field in a buffer, so a field folded over many lines costs time linear in its length
/// (joining strings line by line was quadratic: a crafted record of a million short lines held a worker
/// for minutes).
/// </summary>
public sealed class HeaderFields
{
    private readonly List<(string Name, StringBuilder Value)> _fields = [];

    public int Count => _fields.Count;

    public void Add(string name, string value) => _fields.Add((name, new StringBuilder(value)));

    /// <summary>Appends a folded line to the last field; false when there is no field to continue.</summary>
    public bool Continue(string text)
    {
        if (_fields.Count == 0) return false;
        _fields[^1].Value.Append(' ').Append(text);
        return true;
    }

    public List<KeyValuePair<string, string>> ToList() =>
        _fields.Select(f => new KeyValuePair<string, string>(f.Name, f.Value.ToString())).ToList();
}
