namespace Platform.Ingestion.Dedupe;

/// <summary>Counts per key held in this process; thread-safe.</summary>
public sealed class InProcessKeyCounter : IKeyCounter
{
    private readonly Dictionary<UInt128, long> _counts = [];
    private readonly Lock _lock = new();

    public ValueTask<long> IncrementAsync(UInt128 key, long amount = 1, CancellationToken cancellationToken = default)
    {
        lock (_lock)
        {
            var count = _counts.GetValueOrDefault(key) + amount;
            _counts[key] = count;
            return ValueTask.FromResult(count);
        }
    }

    public ValueTask<long> GetAsync(UInt128 key, CancellationToken cancellationToken = default)
    {
        lock (_lock) return ValueTask.FromResult(_counts.GetValueOrDefault(key));
    }
}
