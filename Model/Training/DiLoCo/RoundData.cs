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

    /// <summary>
    /// Nothing to save: every round after the first starts its part afresh (its position follows from rank and round
    /// alone), and a replica's state is only ever saved or resumed at a round boundary.
    /// </summary>
    public string SaveCursor() => "";

    public void RestoreCursor(string cursor)
    {
    }
}
