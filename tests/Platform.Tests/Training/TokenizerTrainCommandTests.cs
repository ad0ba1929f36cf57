using System.Text.Json;
using Microsoft.ML.Tokenizers;
using Platform.Model;
using Platform.Model.Training;
using Platform.Tests.Infrastructure;

namespace Platform.Tests.Training;

/// <summary>`platform tokenizer train` as a person runs it, and a run that references what it wrote.</summary>
public sealed class TokenizerTrainCommandTests(AzuriteFixture azurite) : IDisposable
{
    private readonly string root = Directory.CreateTempSubdirectory("tokenizer-cli-").FullName;

    public void Dispose() => Directory.Delete(root, recursive: true);

    [Fact]
    public async Task Tokenizer_train_writes_a_model_that_loads_and_a_run_trains_with_it_and_its_checkpoint_carries_it()
    {
        var ct = TestContext.Current.CancellationToken;
        string shard = await TrainCommandDatasets.WriteShardAsync(Path.Combine(root, "web"), samples: 8, ct);
        string documents = Path.Combine(root, "documents.jsonl");
        await File.WriteAllLinesAsync(documents, new[] { "Café au lait à Paris ☕", "東京タワーの夜景", "a red square, a blue circle 🔵" }
            .Select(text => JsonSerializer.Serialize(new { text })), ct);
        string model = Path.Combine(root, "out", "web.model");

        var trained = await PlatformCommand.RunAsync(TimeSpan.FromMinutes(2),
            "tokenizer", "train", "--data", shard, "--text", documents, "--vocab", "320", "--max-texts", "100", "--out", model);

        Assert.True(trained.ExitCode == 0, trained.StandardError);
        Assert.Contains("read 11 texts, training on 11", trained.StandardError);
        Assert.Contains("merged ", trained.StandardError);
        Assert.Contains($"out={model}", trained.StandardOutput);
        Assert.Contains($"platform train --tokenizer sentencepiece:{model}", trained.StandardOutput);
        byte[] file = await File.ReadAllBytesAsync(model, ct);
        var mlNet = SentencePieceTokenizer.Create(new MemoryStream(file), addBeginningOfSentence: false, addEndOfSentence: false);
        var tokenizer = TextTokenizer.FromByteFallbackSentencePiece(file);
        Assert.Equal(mlNet.EncodeToIds("a red square ☕"), tokenizer.Encode("a red square ☕")[..^1].Select(id => tokenizer.BaseIds[id - SpecialTokens.Count]));

        string run = Path.Combine(root, "run");
        var training = await PlatformCommand.RunAsync(TimeSpan.FromMinutes(4),
            "train", "--data", shard, "--tokenizer", $"sentencepiece:{model}", "--steps", "1", "--batch", "2", "--warmup", "1", "--threads", "1", "--out", run);

        Assert.True(training.ExitCode == 0, training.StandardError);
        Assert.Contains($"tokenizer=sentencepiece vocabulary={tokenizer.VocabSize} ", training.StandardOutput);
        var (checkpointModel, checkpointTokenizer) = Checkpoint.LoadForInference(run);
        using (checkpointModel)
        {
            Assert.Equal(tokenizer.VocabSize, checkpointModel.Config.VocabSize);
            Assert.True(checkpointTokenizer.UsesOwnEncoder);
            Assert.Equal(tokenizer.Encode("東京 🔵 Zürich"), checkpointTokenizer.Encode("東京 🔵 Zürich"));
        }
    }

    [Fact]
    public async Task Tokenizer_train_on_a_dataset_reads_its_committed_shards_as_on_their_files()
    {
        var ct = TestContext.Current.CancellationToken;
        string folder = Path.Combine(root, "web");
        await TrainCommandDatasets.WriteAsync(azurite.Connection.CreateBlobClient(), "tokenizer-web", folder, samples: 6, ct);
        string fromDataset = Path.Combine(root, "dataset.model"), fromFiles = Path.Combine(root, "files.model");

        var dataset = await PlatformCommand.RunAsync(TimeSpan.FromMinutes(2),
            new Dictionary<string, string> { ["PLATFORM_Storage__ConnectionString"] = azurite.Connection.ConnectionString },
            "tokenizer", "train", "--dataset", "tokenizer-web", "--vocab", "300", "--out", fromDataset);
        var files = await PlatformCommand.RunAsync(TimeSpan.FromMinutes(2),
            "tokenizer", "train", "--data", Directory.GetFiles(folder, "*.tar").Single(), "--vocab", "300", "--out", fromFiles);

        Assert.True(dataset.ExitCode == 0, dataset.StandardError);
        Assert.True(files.ExitCode == 0, files.StandardError);
        Assert.Contains("dataset=tokenizer-web shards=1 samples=6", dataset.StandardOutput);
        Assert.Equal(await File.ReadAllBytesAsync(fromFiles, ct), await File.ReadAllBytesAsync(fromDataset, ct));
    }

    [Fact]
    public async Task Tokenizer_train_refuses_bad_input_in_one_line_with_exit_code_2()
    {
        string shard = await TrainCommandDatasets.WriteShardAsync(Path.Combine(root, "web"), samples: 2, TestContext.Current.CancellationToken);
        string missing = Path.Combine(root, "missing.tar"), model = Path.Combine(root, "x.model");
        (string[] Args, string Message)[] cases =
        [
            (["tokenizer", "train", "--data", missing, "--vocab", "320", "--out", model], $"tokenizer train: Shard {missing} does not exist"),
            (["tokenizer", "train", "--data", shard, "--vocab", "100", "--out", model], "tokenizer train: A vocabulary needs more than its 259 special and byte pieces"),
            (["tokenizer", "train", "--vocab", "320", "--out", model], "tokenizer train: give exactly one of --data (shard files) and --dataset"),
        ];
        foreach (var (args, message) in cases)
        {
            var result = await PlatformCommand.RunAsync(TimeSpan.FromMinutes(1), args);
            Assert.True(result.ExitCode == 2, $"{string.Join(' ', args)} gave {result.ExitCode}: {result.StandardOutput}{result.StandardError}");
            Assert.StartsWith(message, result.StandardError.Trim());
            Assert.Single(result.StandardError.Trim().Split('\n'));
            Assert.False(File.Exists(model));
        }
    }
}
