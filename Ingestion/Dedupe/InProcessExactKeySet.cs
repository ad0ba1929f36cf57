namespace Platform.Ingestion.Dedupe;

/// <summary>Hash set of exact keys held in this process; thread-safe.</summary>
public sealed class InProcessExactKeySet : IExactKeySet
{
    private readonly HashSet<UInt128> _keys = [];
    private readonly Lock _lock = new();

    public int Count
    {
        get { lock (_lock) return _keys.Count; }
    }

    public ValueTask<bool> TryAddAsync(UInt128 key, CancellationToken cancellationToken = default)
    {
        lock (_lock) return ValueTask.FromResult(_keys.Add(key));
    }

    public ValueTask<bool> ContainsAsync(UInt128 key, CancellationToken cancellationToken = default)
    {
        lock (_lock) return ValueTask.FromResult(_keys.Contains(key));
    }
}
