using static TorchSharp.torch;

namespace Platform.Model.Tests;

public sealed class SafetensorsExportTests : IDisposable
{
    private readonly string folder = Directory.CreateTempSubdirectory("simvlm-export-").FullName;

    public void Dispose() => Directory.Delete(folder, recursive: true);

    [Fact]
    public void ExportedModelReloadsWithIdenticalOutputs()
    {
        using var scope = NewDisposeScope();
        var tokenizer = TextTokenizer.BuildGpt2(["a red bus", "a blue car"], 100);
        var config = TestModels.Micro with { VocabSize = tokenizer.VocabSize };
        var model = TestModels.NewModel(config, 31);
        var random = new DeterministicRandom(31);
        using var batch = PrefixLm.Build([TestModels.ImageTextSample(config, random, 5)], [1], config);
        var expected = TestModels.Values(model.Forward(batch));

        SafetensorsExport.Export(model, tokenizer, folder);
        manual_seed(99); // the reloaded model starts from other random weights
        var (reloaded, reloadedTokenizer) = SafetensorsExport.Load(folder);

        Assert.Equal(expected, TestModels.Values(reloaded.Forward(batch)));
        Assert.Equal(config.StageDepths, reloaded.Config.StageDepths);
        Assert.Equal(config with { StageDepths = reloaded.Config.StageDepths }, reloaded.Config);
        Assert.Equal(tokenizer.Encode("a red car"), reloadedTokenizer.Encode("a red car"));
        Assert.True(new FileInfo(Path.Combine(folder, SafetensorsExport.WeightsFile)).Length > 4 * model.ParameterCount());
    }
}
