namespace Platform.Grains.Training;

/// <summary>
/// A run's step metrics at bounded cost: every step of the recent window (the last <c>recentSteps</c> step numbers),
/// and before it only the first step and the steps that are multiples of a power-of-two stride, the stride doubling
/// whenever the older points would exceed <c>olderPoints</c>. Points are ascending and unique.
/// </summary>
/// <remarks>
/// Which older points survive depends only on their step numbers and the stride, never on the order reports came in,
/// so a history truncated at a resumed attempt's checkpoint and filled again by the redone steps, once it is past where
/// the lost attempt got, equals the history of a run that never took the lost steps.
/// </remarks>
public sealed class StepHistory
{
    private readonly List<TrainingStepRecord> _points;
    private readonly int _recentSteps;
    private readonly int _olderPoints;

    /// <param name="points">A history saved earlier (<see cref="Points"/>), ascending.</param>
    /// <param name="stride">Its <see cref="Stride"/>.</param>
    public StepHistory(int recentSteps, int olderPoints, IEnumerable<TrainingStepRecord>? points = null, int stride = 1)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(recentSteps, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(olderPoints, 1);
        if (stride < 1 || (stride & (stride - 1)) != 0) throw new ArgumentException($"Stride {stride} must be a power of two.", nameof(stride));
        _recentSteps = recentSteps;
        _olderPoints = olderPoints;
        _points = points?.ToList() ?? [];
        for (int i = 1; i < _points.Count; i++)
            if (_points[i].Step <= _points[i - 1].Step) throw new ArgumentException("History points must be ascending and unique.", nameof(points));
        Stride = stride;
        Compact();
    }

    /// <summary>Older points kept are multiples of this step distance (a power of two); it only grows.</summary>
    public int Stride { get; private set; }

    public IReadOnlyList<TrainingStepRecord> Points => _points;

    public TrainingStepRecord? Latest => _points.Count == 0 ? null : _points[^1];

    /// <summary>Adds steps in step order; a step at or before the latest one is already known and ignored.</summary>
    public void Add(IEnumerable<TrainingStepRecord> steps)
    {
        foreach (var step in steps)
            if (Latest is null || step.Step > Latest.Step) _points.Add(step);
        Compact();
    }

    /// <summary>Forgets every step after <paramref name="step"/>: a resumed attempt redoes them.</summary>
    public void TruncateAfter(int step)
    {
        int keep = _points.FindLastIndex(p => p.Step <= step) + 1;
        _points.RemoveRange(keep, _points.Count - keep);
        Compact();
    }

    private bool IsOlder(TrainingStepRecord point) => point.Step <= Latest!.Step - _recentSteps;

    private bool KeptAsOlder(int index, int stride) => index == 0 || _points[index].Step % stride == 0;

    private void Compact()
    {
        if (_points.Count == 0) return;
        int older = _points.FindLastIndex(p => IsOlder(p)) + 1;
        while (Enumerable.Range(0, older).Count(i => KeptAsOlder(i, Stride)) > _olderPoints) Stride *= 2;
        int write = 0;
        for (int read = 0; read < _points.Count; read++)
            if (read >= older || KeptAsOlder(read, Stride)) _points[write++] = _points[read];
        _points.RemoveRange(write, _points.Count - write);
    }
}
