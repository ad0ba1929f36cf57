using System.Runtime.InteropServices;
using static TorchSharp.torch;

namespace Platform.Model.Training.DiLoCo;

/// <summary>One parameter tensor of a model, flattened to float32, by its state-dict name.</summary>
public sealed record NamedArray(string Name, float[] Values);

/// <summary>
/// A model's parameters as plain float32 arrays in the model's parameter order: what replicas and the
/// coordinator exchange. Kept apart from tensors so that averaging and the outer step need no libtorch.
/// </summary>
public static class NamedWeights
{
    /// <summary>Copies every parameter of <paramref name="model"/> to the CPU as float32, each in one copy of its bytes.</summary>
    public static IReadOnlyList<NamedArray> Read(SimVlmModel model)
    {
        using var scope = NewDisposeScope();
        return model.named_parameters()
            .Select(p => new NamedArray(p.name, ToArray(p.parameter.detach().to(ScalarType.Float32).cpu().contiguous())))
            .ToArray();
    }

    /// <summary>A contiguous float32 CPU tensor's values, copied whole from its storage (the accessor's ToArray goes value by value for one dimension).</summary>
    private static float[] ToArray(Tensor values)
    {
        if (values.numel() == 0) return [];
        return MemoryMarshal.Cast<byte, float>(values.bytes).ToArray();
    }

    /// <summary>
    /// Overwrites <paramref name="model"/>'s parameters in place. In place matters: the trainer's inner
    /// optimiser holds these very tensors, so its moments carry over to the next round as DiLoCo requires.
    /// </summary>
    public static void Write(SimVlmModel model, IReadOnlyList<NamedArray> weights)
    {
        var byName = weights.ToDictionary(w => w.Name);
        using var noGrad = no_grad();
        foreach (var (name, parameter) in model.named_parameters())
        {
            if (!byName.TryGetValue(name, out var source)) throw new ArgumentException($"The weights have no '{name}'.", nameof(weights));
            if (source.Values.Length != parameter.numel()) throw new ArgumentException($"'{name}' has {source.Values.Length} values; the model's has {parameter.numel()}.", nameof(weights));
            using var values = tensor(source.Values, parameter.shape);
            parameter.copy_(values);
        }
    }

    /// <summary>start − local, per value: the direction a replica's round moved away from, which the outer step treats as a gradient.</summary>
    public static IReadOnlyList<NamedArray> PseudoGradient(IReadOnlyList<NamedArray> start, IReadOnlyList<NamedArray> local)
    {
        if (start.Count != local.Count) throw new ArgumentException("Start and local weights hold different parameters.");
        return start.Zip(local, (s, l) =>
        {
            if (s.Name != l.Name || s.Values.Length != l.Values.Length) throw new ArgumentException($"'{s.Name}' and '{l.Name}' do not match.");
            var delta = new float[s.Values.Length];
            for (int i = 0; i < delta.Length; i++) delta[i] = s.Values[i] - l.Values[i];
            return new NamedArray(s.Name, delta);
        }).ToArray();
    }

    public static IReadOnlyList<NamedArray> Clone(IReadOnlyList<NamedArray> weights) =>
        weights.Select(w => new NamedArray(w.Name, (float[])w.Values.Clone())).ToArray();

    public static long Count(IReadOnlyList<NamedArray> weights) => weights.Sum(w => (long)w.Values.Length);
}
