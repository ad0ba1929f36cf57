using Platform.Ingestion.Images;

namespace Platform.Ingestion.Dedupe;

/// <summary>Perceptual hashes of evaluation images; training images near any of them are contamination.</summary>
public sealed class EvaluationImageSet
{
    private readonly LshHammingIndex _index;

    private EvaluationImageSet(LshHammingIndex index, int unreadable)
    {
        _index = index;
        UnreadableFiles = unreadable;
    }

    public int Count => _index.Count;

    /// <summary>Files in the folder that are not decodable images (reported, not fatal).</summary>
    public int UnreadableFiles { get; }

    /// <summary>Hashes every file under <paramref name="folder"/> (recursively), whatever its size.</summary>
    public static EvaluationImageSet Load(string folder, int maxDistance, ImageProcessor? processor = null)
    {
        processor ??= new ImageProcessor(new ImageOptions());
        var index = new LshHammingIndex(maxDistance);
        var unreadable = 0;
        foreach (var file in Directory.EnumerateFiles(folder, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
        {
            if (processor.HashOnly(File.ReadAllBytes(file)) is { } hash) index.Add(hash);
            else unreadable++;
        }
        return new EvaluationImageSet(index, unreadable);
    }

    public bool IsNear(ulong hash) => _index.Find(hash) is not null;
}
