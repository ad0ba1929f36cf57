namespace Platform.Ingestion.Dedupe;

/// <summary>
/// A 64-bit hash cut into <c>maxDistance + 1</c> (or more) bands: two hashes within distance d differ in at
/// most d bands, so they agree exactly on at least one (pigeonhole), and a lookup of each band's bucket finds
/// every true neighbour.
/// </summary>
public sealed class HammingBands
{
    private readonly (int Shift, ulong Mask)[] _bands;

    public HammingBands(int maxDistance, int? bands = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(maxDistance);
        var bandCount = bands ?? maxDistance + 1;
        if (bandCount <= maxDistance)
            throw new ArgumentException($"{bandCount} bands cannot guarantee recall at distance {maxDistance}", nameof(bands));
        ArgumentOutOfRangeException.ThrowIfGreaterThan(bandCount, 64, nameof(bands));
        _bands = new (int, ulong)[bandCount];
        var shift = 0;
        for (var b = 0; b < bandCount; b++)
        {
            var width = 64 / bandCount + (b < 64 % bandCount ? 1 : 0);
            _bands[b] = (shift, width == 64 ? ulong.MaxValue : (1UL << width) - 1);
            shift += width;
        }
    }

    public int Count => _bands.Length;

    public ulong Value(ulong hash, int band) => (hash >> _bands[band].Shift) & _bands[band].Mask;
}
