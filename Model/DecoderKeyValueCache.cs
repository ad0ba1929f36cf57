using static TorchSharp.torch;

namespace Platform.Model;

/// <summary>
/// What incremental decoding keeps between tokens, per decoder layer: the cross-attention's keys and
/// values of the encoded prefix (computed once) and the self-attention's keys and values of every
/// token decoded so far (one more position per step). Rows are whatever is being decoded together
/// (images, or images times beams); <see cref="KeepRows"/> follows beam search's choice of parents.
/// The cache owns its tensors: they outlive the dispose scope of any single step, and it frees
/// each one as soon as it is replaced.
/// </summary>
public sealed class DecoderKeyValueCache : IDisposable
{
    internal DecoderLayerCache[] Layers { get; }

    /// <summary>Rows being decoded.</summary>
    public long Rows => Layers[0].CrossKeys.shape[0];

    /// <summary>Tokens decoded so far per row (BOS included).</summary>
    public long Length => Layers[0].SelfKeys?.shape[2] ?? 0;

    internal DecoderKeyValueCache(IReadOnlyList<(Tensor Keys, Tensor Values)> crossKeysValues, Tensor crossMask)
    {
        Layers = crossKeysValues.Select(kv => new DecoderLayerCache(kv.Keys, kv.Values, crossMask)).ToArray();
    }

    /// <summary>Keeps the given rows, in this order (a row may be kept several times, or dropped): beam search's parents, or the unfinished rows.</summary>
    /// <param name="rows">(R',) row indices, int64, on the cache's device.</param>
    public void KeepRows(Tensor rows)
    {
        // Layers share the cross mask: select it once.
        var crossMask = Owned(Layers[0].CrossMask.index_select(0, rows));
        foreach (var layer in Layers) layer.KeepRows(rows);
        Layers[0].CrossMask.Dispose();
        foreach (var layer in Layers) layer.CrossMask = crossMask;
    }

    public void Dispose()
    {
        Layers[0].CrossMask.Dispose();
        foreach (var layer in Layers) layer.DisposeKeysValues();
    }

    /// <summary>Takes a tensor out of every dispose scope: the cache disposes it.</summary>
    internal static Tensor Owned(Tensor tensor) => tensor.DetachFromDisposeScope();
}

/// <summary>One decoder layer's part of <see cref="DecoderKeyValueCache"/>; keys and values are (R, heads, L, head width).</summary>
internal sealed class DecoderLayerCache
{
    public Tensor CrossKeys { get; private set; }
    public Tensor CrossValues { get; private set; }

    /// <summary>(R, 1, 1, Lk) true where the encoded prefix holds a real token; shared by all layers.</summary>
    public Tensor CrossMask { get; set; }

    public Tensor? SelfKeys { get; private set; }
    public Tensor? SelfValues { get; private set; }

    public DecoderLayerCache(Tensor crossKeys, Tensor crossValues, Tensor crossMask)
    {
        CrossKeys = DecoderKeyValueCache.Owned(crossKeys.contiguous());
        CrossValues = DecoderKeyValueCache.Owned(crossValues.contiguous());
        CrossMask = DecoderKeyValueCache.Owned(crossMask);
    }

    /// <summary>Adds one position per row: keys and values (R, heads, 1, head width).</summary>
    public void Append(Tensor keys, Tensor values)
    {
        SelfKeys = Replace(SelfKeys, SelfKeys is null ? keys.contiguous() : cat([SelfKeys, keys], 2));
        SelfValues = Replace(SelfValues, SelfValues is null ? values.contiguous() : cat([SelfValues, values], 2));
    }

    public void KeepRows(Tensor rows)
    {
        CrossKeys = Replace(CrossKeys, CrossKeys.index_select(0, rows))!;
        CrossValues = Replace(CrossValues, CrossValues.index_select(0, rows))!;
        if (SelfKeys is not null) SelfKeys = Replace(SelfKeys, SelfKeys.index_select(0, rows));
        if (SelfValues is not null) SelfValues = Replace(SelfValues, SelfValues.index_select(0, rows));
    }

    public void DisposeKeysValues()
    {
        CrossKeys.Dispose();
        CrossValues.Dispose();
        SelfKeys?.Dispose();
        SelfValues?.Dispose();
    }

    private static Tensor Replace(Tensor? old, Tensor replacement)
    {
        var owned = DecoderKeyValueCache.Owned(replacement);
        old?.Dispose();
        return owned;
    }
}
