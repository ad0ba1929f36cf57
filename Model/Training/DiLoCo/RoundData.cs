namespace Platform.Model.Training.DiLoCo;

/// <summary>
/// A replica's data: the part of the dataset the <see cref="DataPartition"/> gives its rank in the current round, switched
/// between rounds. The trainer keeps drawing from this one object while the part under it changes.
/// </summary>
public sealed class RoundData(IPrefixLmData first) : IPrefixLmData
{
    private IPrefixLmData current = first;

    /// <summary>Trains on <paramref name="next"/> from now on.</summary>
    public void SwitchTo(IPrefixLmData next) => current = next;

    public bool HasImageText => current.HasImageText;

    public bool HasTextOnly => current.HasTextOnly;

    public IReadOnlyList<PrefixLmSample> NextImageText(int count) => current.NextImageText(count);

    public IReadOnlyList<PrefixLmSample> NextTextOnly(int count) => current.NextTextOnly(count);

    public string SaveCursor() => current.SaveCursor();

    public void RestoreCursor(string cursor) => current.RestoreCursor(cursor);
}
