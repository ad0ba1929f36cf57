using Platform.Model.Devices;
using static TorchSharp.torch;

namespace Platform.Model.Tests;

public sealed class OneDnnCacheWorkaroundTests
{
    [Fact]
    public void A_cpu_without_listed_cache_sizes_is_recognised_and_one_with_them_is_not()
    {
        var cpu = Directory.CreateTempSubdirectory("cpu0-");
        try
        {
            Assert.True(OneDnnCacheWorkaround.CacheSizesUnknown(cpu.FullName));
            Directory.CreateDirectory(Path.Combine(cpu.FullName, "cache", "index2"));
            File.WriteAllText(Path.Combine(cpu.FullName, "cache", "index2", "size"), "512K\n");
            Assert.False(OneDnnCacheWorkaround.CacheSizesUnknown(cpu.FullName));
            Assert.False(OneDnnCacheWorkaround.CacheSizesUnknown(Path.Combine(cpu.FullName, "missing")));
        }
        finally
        {
            cpu.Delete(recursive: true);
        }
    }

    /// <summary>
    /// The base preset's conv stage backward on a 224-pixel image: on a machine that hides its cache sizes (this one),
    /// oneDNN's brgemm blocking divided by the zero L2 size there and killed the process with SIGFPE.
    /// </summary>
    [Fact]
    public void The_base_conv_stage_trains_a_step_where_the_cpu_hides_its_cache_sizes()
    {
        var config = SimVlmConfig.Preset("base");
        using var stem = new ConvStem(config);
        if (OneDnnCacheWorkaround.CacheSizesUnknown())
            Assert.Equal(OneDnnCacheWorkaround.SafeIsa, Environment.GetEnvironmentVariable(OneDnnCacheWorkaround.Variable));
        using var scope = NewDisposeScope();
        // The stage alone: its position table is drawn by the whole model's initialisation, which is not run here.
        using (no_grad())
            foreach (var parameter in stem.parameters()) parameter.normal_(0, 0.02);
        var images = randn(1, 3, config.ImageSize, config.ImageSize, requires_grad: true);
        stem.call(images).square().mean().backward();
        Assert.NotNull(images.grad);
        Assert.True(images.grad.isfinite().all().item<bool>(), $"the image's gradient is not finite: {images.grad.abs().max().item<float>()}");
        Assert.All(stem.parameters(), p => Assert.True(p.grad is { } g && g.isfinite().all().item<bool>(), "a parameter has no finite gradient"));
    }
}
