using System.Buffers.Binary;
using System.Text.Json;
using Platform.Evaluation.Tests;
using Platform.Model;
using Platform.Model.Evaluation.Benchmark;
using Platform.Model.Training;
using Platform.Tests.Infrastructure;

namespace Platform.Tests.Training;

/// <summary>`platform export` as a PyTorch user runs it on a run folder.</summary>
public sealed class ExportCommandTests : IDisposable
{
    private readonly string root = Directory.CreateTempSubdirectory("export-cli-").FullName;

    public void Dispose() => Directory.Delete(root, recursive: true);

    [Fact]
    public async Task Export_writes_every_tensor_of_the_checkpoint_with_config_tokenizer_files_and_a_readme()
    {
        string data = Path.Combine(root, "data"), run = Path.Combine(root, "run"), export = Path.Combine(root, "export");
        BenchmarkGenerator.Generate(data, TinyBenchmarkModel.Benchmark(), TestContext.Current.CancellationToken);
        string checkpoint = TinyBenchmarkModel.Checkpoint(data, run, steps: 1);

        var result = await PlatformCommand.RunAsync(TimeSpan.FromMinutes(3), "export", "--checkpoint", run, "--out", export);

        Assert.True(result.ExitCode == 0, result.StandardError);
        string[] files = [SafetensorsExport.WeightsFile, SafetensorsExport.ConfigFile, SafetensorsExport.Gpt2VocabFile, SafetensorsExport.Gpt2MergesFile,
            SafetensorsExport.VocabularyFile, SafetensorsExport.ReadmeFile];
        foreach (var file in files) Assert.Contains($"wrote {Path.Combine(export, file)}", result.StandardOutput);

        var (model, tokenizer) = Checkpoint.LoadForInference(checkpoint);
        using (model)
        {
            byte[] weights = await File.ReadAllBytesAsync(Path.Combine(export, SafetensorsExport.WeightsFile), TestContext.Current.CancellationToken);
            long headerLength = BinaryPrimitives.ReadInt64LittleEndian(weights);
            using var header = JsonDocument.Parse(weights.AsMemory(8, (int)headerLength));
            string readme = await File.ReadAllTextAsync(Path.Combine(export, SafetensorsExport.ReadmeFile), TestContext.Current.CancellationToken);
            var state = model.state_dict();
            Assert.Equal(state.Keys.Order(), header.RootElement.EnumerateObject().Select(e => e.Name).Where(n => n != "__metadata__").Order());
            foreach (var (name, tensor) in state)
            {
                var entry = header.RootElement.GetProperty(name);
                Assert.Equal("F32", entry.GetProperty("dtype").GetString());
                Assert.Equal(tensor.shape, entry.GetProperty("shape").EnumerateArray().Select(d => d.GetInt64()).ToArray());
                Assert.Equal(tensor.numel() * 4, entry.GetProperty("data_offsets")[1].GetInt64() - entry.GetProperty("data_offsets")[0].GetInt64());
                Assert.Contains($"`{name}`", readme);
            }
            var vocab = JsonDocument.Parse(await File.ReadAllTextAsync(Path.Combine(export, SafetensorsExport.Gpt2VocabFile), TestContext.Current.CancellationToken)).RootElement;
            Assert.Equal(tokenizer.VocabSize, vocab.EnumerateObject().Count());
            var config = JsonDocument.Parse(await File.ReadAllTextAsync(Path.Combine(export, SafetensorsExport.ConfigFile), TestContext.Current.CancellationToken)).RootElement;
            Assert.Equal(model.Config.Width, config.GetProperty("Width").GetInt32());
            Assert.Equal(model.Config.VocabSize, config.GetProperty("VocabSize").GetInt32());
        }
    }
}
