using TorchSharp;
using static TorchSharp.torch;

namespace Platform.Model.Tests;

/// <summary>TorchSharp's native libraries load from the build output and do real work on this machine.</summary>
public class TorchSharpSmokeTests
{
    [Fact]
    public void NativeLibraryIsLoadedFromTheBuildOutput()
    {
        using var probe = ones(1);
        string loaded = Assert.Single(LoadedPaths("libLibTorchSharp.so"));
        Assert.StartsWith(AppContext.BaseDirectory, loaded);
        // Where the system libstdc++ is older than the library needs, the build output's copy is the patched one.
        var need = Assert.Single(Platform.Build.ElfVersions.ReadVersionNeeds(File.ReadAllBytes(loaded)), n => n.Version == "GLIBCXX_3.4.32");
        var systemVersions = Platform.Build.ElfVersions.ReadVersionDefinitions(File.ReadAllBytes(Assert.Single(LoadedPaths("libstdc++.so.6"))));
        Assert.True(need.IsWeak || systemVersions.Contains("GLIBCXX_3.4.32"));
    }

    /// <summary>Files mapped into this process whose names start with the given name (libstdc++.so.6 maps as libstdc++.so.6.0.30).</summary>
    private static string[] LoadedPaths(string fileName) =>
        File.ReadAllLines("/proc/self/maps")
            .Where(line => line.Contains('/'))
            .Select(line => line[line.IndexOf('/')..])
            .Where(path => Path.GetFileName(path).StartsWith(fileName, StringComparison.Ordinal))
            .Distinct()
            .ToArray();

    [Fact]
    public void TensorArithmeticMatchesHandComputedValues()
    {
        using var scope = NewDisposeScope();
        var a = tensor(new float[] { 1, 2, 3, 4 }, 2, 2);
        var b = tensor(new float[] { 5, 6, 7, 8 }, 2, 2);
        var product = matmul(a, b);
        Assert.Equal(new float[] { 19, 22, 43, 50 }, product.data<float>().ToArray());
        Assert.Equal(10f, a.sum().item<float>());
        Assert.Equal(new float[] { 6, 8, 10, 12 }, (a + b).data<float>().ToArray());
        var bf16 = a.to(ScalarType.BFloat16);
        Assert.Equal(ScalarType.BFloat16, bf16.dtype);
        Assert.Equal(10f, bf16.sum().to(ScalarType.Float32).item<float>());
    }

    [Fact]
    public void TransformerLayerForwardAndBackwardGiveNonZeroGradients()
    {
        using var scope = NewDisposeScope();
        manual_seed(1);
        var layer = nn.TransformerEncoderLayer(d_model: 16, nhead: 4, dim_feedforward: 32, dropout: 0.0);
        var input = randn(5, 3, 16); // (sequence, batch, width)
        var output = layer.call(input);
        Assert.Equal(new long[] { 5, 3, 16 }, output.shape);
        output.pow(2).mean().backward();
        var parameters = layer.named_parameters().ToArray();
        Assert.NotEmpty(parameters);
        foreach (var (name, parameter) in parameters)
        {
            Assert.True(parameter.grad is not null, $"{name} has no gradient");
            Assert.True(parameter.grad!.abs().sum().item<float>() > 0, $"{name} has an all-zero gradient");
        }
    }

    [Fact]
    public void ScaledDotProductAttentionHonoursABooleanMask()
    {
        using var scope = NewDisposeScope();
        manual_seed(2);
        var q = randn(1, 2, 4, 8);
        var k = randn(1, 2, 4, 8);
        var v = randn(1, 2, 4, 8);
        var causal = ones(4, 4, dtype: ScalarType.Bool).tril();
        var masked = nn.functional.scaled_dot_product_attention(q, k, v, attn_mask: causal);
        var builtIn = nn.functional.scaled_dot_product_attention(q, k, v, is_casual: true);
        Assert.True(allclose(masked, builtIn, rtol: 1e-5, atol: 1e-6));
        // The first query sees only the first key, so its output is exactly the first value.
        Assert.True(allclose(masked[.., .., 0], v[.., .., 0], rtol: 1e-5, atol: 1e-6));
    }

    [Fact]
    public void SavedModuleReloadsWithIdenticalOutputs()
    {
        using var scope = NewDisposeScope();
        manual_seed(3);
        var original = nn.Sequential(("first", nn.Linear(8, 16)), ("act", nn.GELU()), ("second", nn.Linear(16, 4)));
        var input = randn(3, 8);
        var expected = original.call(input);
        string path = Path.Combine(Path.GetTempPath(), $"torchsharp-smoke-{Guid.NewGuid():N}.bin");
        try
        {
            original.save(path);
            manual_seed(4);
            var reloaded = nn.Sequential(("first", nn.Linear(8, 16)), ("act", nn.GELU()), ("second", nn.Linear(16, 4)));
            Assert.False(allclose(reloaded.call(input), expected), "a freshly initialised module should differ before loading");
            reloaded.load(path);
            Assert.Equal(expected.data<float>().ToArray(), reloaded.call(input).data<float>().ToArray());
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void ConvolutionInputGradientsStayFiniteAtTheNarrowestAllowedStem()
    {
        // Guards the limit in SimVlmConfig.Validate: narrower 3x3 convolutions produced NaN input
        // gradients in a fraction of backward passes with this libtorch on this machine.
        int width = SimVlmConfig.MinimumStemWidth;
        for (int pass = 0; pass < 60; pass++)
        {
            using var scope = NewDisposeScope();
            var conv = nn.Conv2d(width, width, 3, padding: 1, bias: false);
            var input = randn(8, width, 8, 8).requires_grad_(true);
            conv.call(input).pow(2).sum().backward();
            Assert.False(isnan(input.grad!).any().item<bool>(), $"NaN input gradient in pass {pass}");
        }
    }
}
