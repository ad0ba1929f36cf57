using Platform.Datasets;
using Platform.Evaluation.Tests;
using Platform.Model.Evaluation.Benchmark;
using Platform.Model.Evaluation.Datasets;
using Platform.Model.Training;
using Platform.Tests.Infrastructure;
using SkiaSharp;

namespace Platform.Tests.Training;

/// <summary>
/// The model and evaluation commands (`train`, `caption`, `eval`, `benchmark-data`, `export`) as a person
/// runs them with bad input: one line on stderr that says what is wrong and what to do, exit code 2,
/// and no "Unhandled exception" or stack trace.
/// </summary>
public sealed class ModelCommandErrorTests(ModelCommandErrorTests.Files files) : IClassFixture<ModelCommandErrorTests.Files>
{
    /// <summary>A benchmark, a good checkpoint and damaged copies of it, shards good and bad, files that are not what they claim.</summary>
    public sealed class Files : IDisposable
    {
        public string Root { get; } = Directory.CreateTempSubdirectory("model-errors-").FullName;
        public string Path(params string[] parts) => System.IO.Path.Combine([Root, .. parts]);

        public Files()
        {
            BenchmarkGenerator.Generate(Path("data"), TinyBenchmarkModel.Benchmark(), CancellationToken.None);
            string checkpoint = TinyBenchmarkModel.Checkpoint(Path("data"), Path("run"), steps: 0);
            Directory.CreateDirectory(Path("checkpoint"));
            foreach (var file in Directory.GetFiles(checkpoint)) File.Copy(file, Path("checkpoint", System.IO.Path.GetFileName(file)));
            Damaged("cut-model", Checkpoint.ModelFile, bytes => bytes[..(bytes.Length / 2)]);
            Damaged("bad-state", Checkpoint.StateFile, _ => "{\"step\": "u8.ToArray());
            Damaged("bad-vocabulary", Checkpoint.VocabularyFile, _ => "not json"u8.ToArray());
            Directory.CreateDirectory(Path("no-checkpoint"));
            File.WriteAllText(Path("no-checkpoint", "notes.txt"), "nothing here");

            WriteShard(Path("shard.tar"), samples: 4);
            WriteShard(Path("empty.tar"), samples: 0);
            File.WriteAllBytes(Path("garbage.tar"), [.. Enumerable.Range(0, 3000).Select(i => (byte)(i * 7919 % 251))]);
            File.WriteAllBytes(Path("bad.model"), "this is not a SentencePiece model"u8.ToArray());
            File.WriteAllText(Path("bad-vocabulary.json"), "{ \"colors\": ");
            Image = Directory.GetFiles(EvaluationDataLayout.ImagesFolder(Path("data"), "test"))[0];
        }

        public string Image { get; }

        private void Damaged(string name, string file, Func<byte[], byte[]> damage)
        {
            Directory.CreateDirectory(Path(name));
            foreach (var source in Directory.GetFiles(Path("checkpoint"))) File.Copy(source, Path(name, System.IO.Path.GetFileName(source)));
            File.WriteAllBytes(Path(name, file), damage(File.ReadAllBytes(Path(name, file))));
        }

        private static void WriteShard(string path, int samples)
        {
            using var stream = File.Create(path);
            var writer = new WebDatasetShardWriter(stream);
            for (int i = 0; i < samples; i++)
            {
                using var bitmap = new SKBitmap(32, 32);
                bitmap.Erase(new SKColor((byte)(60 * i), 120, 200));
                using var image = bitmap.Encode(SKEncodedImageFormat.Jpeg, 90);
                writer.WriteSampleAsync(new SampleRecord { Key = $"00000{i:D4}", Caption = $"a plain square number {i}", Status = SampleStatus.Success },
                    image.ToArray(), CancellationToken.None).GetAwaiter().GetResult();
            }
            writer.DisposeAsync().AsTask().GetAwaiter().GetResult(); // finishes the tar
        }

        public void Dispose() => Directory.Delete(Root, recursive: true);
    }

    /// <summary>Each case: the command line (FILES/ stands for the fixture's folder) and words the one line must hold.</summary>
    public static TheoryData<string, string[], string> Cases => new()
    {
        { "train: a shard that does not exist", ["train", "--data", "FILES/missing.tar", "--steps", "1", "--out", "FILES/out-missing"], "FILES/missing.tar" },
        { "train: a shard that is not a tar", ["train", "--data", "FILES/garbage.tar", "--steps", "1", "--out", "FILES/out-garbage"], "FILES/garbage.tar" },
        { "train: shards without a sample", ["train", "--data", "FILES/empty.tar", "--steps", "1", "--out", "FILES/out-empty"], "No image-text samples in FILES/empty.tar" },
        { "train: text documents that do not exist", ["train", "--data", "FILES/shard.tar", "--text", "FILES/missing.jsonl", "--steps", "1", "--out", "FILES/out-text"], "FILES/missing.jsonl" },
        { "train: an unknown preset", ["train", "--data", "FILES/shard.tar", "--preset", "giant", "--steps", "1", "--out", "FILES/out-preset"], "Unknown preset 'giant'" },
        { "train: an unknown tokenizer", ["train", "--data", "FILES/shard.tar", "--tokenizer", "bert", "--steps", "1", "--out", "FILES/out-tokenizer"], "Unknown tokenizer 'bert'" },
        { "train: a tokenizer file that does not load", ["train", "--data", "FILES/shard.tar", "--tokenizer", "sentencepiece:FILES/bad.model", "--steps", "1", "--out", "FILES/out-spm"], "FILES/bad.model" },
        { "train: a tokenizer file that does not exist", ["train", "--data", "FILES/shard.tar", "--tokenizer", "sentencepiece:FILES/missing.model", "--steps", "1", "--out", "FILES/out-spm2"], "FILES/missing.model" },
        { "train: resume from a folder without a checkpoint", ["train", "--data", "FILES/shard.tar", "--steps", "1", "--out", "FILES/no-checkpoint", "--resume"], "holds no checkpoint" },
        { "caption: a folder without a checkpoint", ["caption", "--checkpoint", "FILES/no-checkpoint", "IMAGE"], "FILES/no-checkpoint" },
        { "caption: a folder that does not exist", ["caption", "--checkpoint", "FILES/missing", "IMAGE"], "FILES/missing" },
        { "caption: a checkpoint whose weights are cut short", ["caption", "--checkpoint", "FILES/cut-model", "IMAGE"], "FILES/cut-model" },
        { "caption: a checkpoint whose trainer state is damaged", ["caption", "--checkpoint", "FILES/bad-state", "IMAGE"], "FILES/bad-state" },
        { "caption: a checkpoint whose tokenizer does not load", ["caption", "--checkpoint", "FILES/bad-vocabulary", "IMAGE"], "FILES/bad-vocabulary" },
        { "eval: an unknown task", ["eval", "--checkpoint", "FILES/checkpoint", "--task", "nlvr3", "--data", "FILES/data"], "Unknown task 'nlvr3'" },
        { "eval: a folder without a checkpoint", ["eval", "--checkpoint", "FILES/no-checkpoint", "--task", "coco-captions", "--data", "FILES/data", "--out", "FILES/eval-out"], "FILES/no-checkpoint" },
        { "eval: a checkpoint whose weights are cut short", ["eval", "--checkpoint", "FILES/cut-model", "--task", "vqa", "--data", "FILES/data", "--out", "FILES/eval-out"], "FILES/cut-model" },
        { "eval: a checkpoint whose tokenizer does not load", ["eval", "--checkpoint", "FILES/bad-vocabulary", "--task", "retrieval", "--data", "FILES/data", "--out", "FILES/eval-out"], "FILES/bad-vocabulary" },
        { "eval: evaluation data that does not exist", ["eval", "--checkpoint", "FILES/checkpoint", "--task", "coco-captions", "--data", "FILES/no-data", "--out", "FILES/eval-out"], "FILES/no-data" },
        { "eval: a results file that does not exist", ["eval", "--results", "FILES/missing.json", "--task", "coco-captions", "--data", "FILES/data"], "FILES/missing.json" },
        { "eval: a results file that is not JSON", ["eval", "--results", "FILES/bad-vocabulary.json", "--task", "vqa", "--data", "FILES/data"], "FILES/bad-vocabulary.json" },
        { "export: a folder without a checkpoint", ["export", "--checkpoint", "FILES/no-checkpoint", "--out", "FILES/export-a"], "FILES/no-checkpoint" },
        { "export: a checkpoint whose weights are cut short", ["export", "--checkpoint", "FILES/cut-model", "--out", "FILES/export-b"], "FILES/cut-model" },
        { "export: a checkpoint whose tokenizer does not load", ["export", "--checkpoint", "FILES/bad-vocabulary", "--out", "FILES/export-c"], "FILES/bad-vocabulary" },
        { "export: an output that is a file", ["export", "--checkpoint", "FILES/checkpoint", "--out", "FILES/shard.tar"], "FILES/shard.tar" },
        { "benchmark-data: a vocabulary file that does not exist", ["benchmark-data", "--out", "FILES/bench-a", "--vocabulary", "FILES/missing.json"], "FILES/missing.json" },
        { "benchmark-data: a vocabulary file that is not JSON", ["benchmark-data", "--out", "FILES/bench-b", "--vocabulary", "FILES/bad-vocabulary.json"], "FILES/bad-vocabulary.json" },
        { "benchmark-data: no images", ["benchmark-data", "--out", "FILES/bench-c", "--images", "0"], "Images must be at least 3" },
        { "benchmark-data: an output that is a file", ["benchmark-data", "--out", "FILES/shard.tar"], "FILES/shard.tar" },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task Bad_input_gets_one_line_saying_what_to_do_and_exit_code_2(string @case, string[] arguments, string expected)
    {
        string Fill(string text) => text.Replace("FILES/", files.Root + "/").Replace("IMAGE", files.Image);
        var result = await PlatformCommand.RunAsync(TimeSpan.FromMinutes(3), [.. arguments.Select(Fill)]);

        string[] lines = result.StandardError.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        TestContext.Current.TestOutputHelper?.WriteLine(result.StandardError);
        Assert.True(result.ExitCode == 2, $"{@case}: exit code {result.ExitCode}\n{result.StandardOutput}\n{result.StandardError}");
        Assert.True(lines.Length == 1, $"{@case}: {lines.Length} lines on stderr\n{result.StandardError}");
        Assert.Contains(Fill(expected), lines[0]);
        foreach (var output in new[] { result.StandardOutput, result.StandardError })
        {
            Assert.DoesNotContain("Unhandled exception", output);
            Assert.DoesNotContain("   at ", output);
        }
    }
}
