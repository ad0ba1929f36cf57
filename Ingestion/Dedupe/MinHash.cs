using System.Text;

namespace Platform.Ingestion.Dedupe;

/// <summary>
/// MinHash signatures of captions over word shingles, and an LSH band index over them. Captions whose
/// estimated Jaccard similarity reaches the threshold count as near duplicates.
/// </summary>
public sealed class MinHasher(int permutations = 128, int shingleWords = 3)
{
    public int Permutations { get; } = permutations;

    public ulong[] Signature(string text)
    {
        var words = Words(text);
        var signature = new ulong[Permutations];
        Array.Fill(signature, ulong.MaxValue);
        var n = Math.Min(shingleWords, words.Count);
        var shingles = words.Count == 0
            ? [""]
            : Enumerable.Range(0, words.Count - n + 1).Select(start => string.Join(' ', words.Skip(start).Take(n)));
        foreach (var shingle in shingles)
        {
            var baseHash = Fnv1a(shingle);
            for (var p = 0; p < Permutations; p++)
            {
                var h = Mix(baseHash ^ Mix((ulong)p + 0x9E3779B97F4A7C15UL));
                if (h < signature[p]) signature[p] = h;
            }
        }
        return signature;
    }

    public static double EstimatedJaccard(ulong[] a, ulong[] b)
    {
        var same = 0;
        for (var i = 0; i < a.Length; i++) if (a[i] == b[i]) same++;
        return (double)same / a.Length;
    }

    private static List<string> Words(string text)
    {
        var words = new List<string>();
        var current = new StringBuilder();
        foreach (var c in text)
        {
            if (char.IsLetterOrDigit(c)) current.Append(char.ToLowerInvariant(c));
            else if (current.Length > 0)
            {
                words.Add(current.ToString());
                current.Clear();
            }
        }
        if (current.Length > 0) words.Add(current.ToString());
        return words;
    }

    private static ulong Fnv1a(string s)
    {
        var hash = 14695981039346656037UL;
        foreach (var b in Encoding.UTF8.GetBytes(s))
        {
            hash ^= b;
            hash *= 1099511628211UL;
        }
        return hash;
    }

    // SplitMix64 finaliser: turns one shingle hash into independent-looking hashes per permutation.
    private static ulong Mix(ulong x)
    {
        x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9UL;
        x = (x ^ (x >> 27)) * 0x94D049BB133111EBUL;
        return x ^ (x >> 31);
    }
}

/// <summary>In-process MinHash LSH index: <c>bands x rows</c> must equal the signature length.</summary>
public sealed class MinHashLshIndex(double threshold = 0.8, int bands = 32, int rows = 4) : INearDuplicateTextIndex
{
    private readonly Dictionary<(int Band, ulong Key), List<ulong[]>> _buckets = [];
    private readonly Lock _lock = new();

    public double Threshold { get; } = threshold;

    public ValueTask<bool> ContainsNearAsync(ulong[] signature, CancellationToken cancellationToken = default)
    {
        Check(signature);
        lock (_lock)
        {
            for (var b = 0; b < bands; b++)
                if (_buckets.TryGetValue((b, BandKey(signature, b)), out var bucket)
                    && bucket.Any(stored => MinHasher.EstimatedJaccard(stored, signature) >= Threshold))
                    return ValueTask.FromResult(true);
            return ValueTask.FromResult(false);
        }
    }

    public ValueTask AddAsync(ulong[] signature, CancellationToken cancellationToken = default)
    {
        Check(signature);
        lock (_lock)
            for (var b = 0; b < bands; b++)
            {
                var key = (b, BandKey(signature, b));
                if (!_buckets.TryGetValue(key, out var bucket)) _buckets[key] = bucket = [];
                bucket.Add(signature);
            }
        return ValueTask.CompletedTask;
    }

    private void Check(ulong[] signature)
    {
        if (signature.Length != bands * rows)
            throw new ArgumentException($"signature has {signature.Length} values, index expects {bands * rows}");
    }

    private ulong BandKey(ulong[] signature, int band)
    {
        var key = 14695981039346656037UL;
        for (var r = 0; r < rows; r++) key = (key ^ signature[band * rows + r]) * 1099511628211UL;
        return key;
    }
}
