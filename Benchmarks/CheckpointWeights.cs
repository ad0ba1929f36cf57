using Platform.Model.Training;
using static TorchSharp.torch;

namespace Platform.Benchmarks;

/// <summary>Compares the trained weights of two checkpoints, as the exact-resume claims are stated: parameter by parameter, within a tolerance.</summary>
public static class CheckpointWeights
{
    /// <summary>
    /// The largest absolute difference between same-named parameters of two checkpoints (folders, or run folders for
    /// their newest checkpoint); infinity when the models differ in shape or in their parameters' names.
    /// </summary>
    public static double MaxDifference(string first, string second)
    {
        var (a, _) = Checkpoint.LoadForInference(first);
        var (b, _) = Checkpoint.LoadForInference(second);
        using (a)
        using (b)
        using (NewDisposeScope())
        {
            var left = a.named_parameters().ToDictionary(p => p.name, p => p.parameter);
            var right = b.named_parameters().ToDictionary(p => p.name, p => p.parameter);
            if (!left.Keys.Order(StringComparer.Ordinal).SequenceEqual(right.Keys.Order(StringComparer.Ordinal))) return double.PositiveInfinity;
            var largest = 0.0;
            foreach (var (name, parameter) in left)
            {
                if (!parameter.shape.SequenceEqual(right[name].shape)) return double.PositiveInfinity;
                largest = Math.Max(largest, (parameter - right[name]).abs().max().item<float>());
            }
            return largest;
        }
    }
}
