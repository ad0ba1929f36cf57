using System.Formats.Tar;
using Platform.Datasets;
using Platform.Model.Training;
using SkiaSharp;

namespace Platform.Model.Tests;

/// <summary>WebDataset shards and text documents streamed into PrefixLM samples.</summary>
public sealed class ShardDataTests : IDisposable
{
    private readonly string folder = Directory.CreateTempSubdirectory("simvlm-shards-").FullName;
    private static readonly SimVlmConfig Config = TestModels.Micro;

    public void Dispose() => Directory.Delete(folder, recursive: true);

    private static byte[] Png(SKColor color, int width = 40, int height = 24)
    {
        using var bitmap = new SKBitmap(width, height);
        bitmap.Erase(color);
        using var data = bitmap.Encode(SKEncodedImageFormat.Png, 100);
        return data.ToArray();
    }

    /// <summary>A shard of <paramref name="count"/> good samples (caption "caption {shard} {i}") plus the given extra members.</summary>
    private string WriteShard(int shard, int count, params (string Name, byte[] Content)[] extra)
    {
        string path = Path.Combine(folder, $"{shard:D5}.tar");
        using var stream = File.Create(path);
        using var writer = new TarWriter(stream);
        void Add(string name, byte[] content) => writer.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, name) { DataStream = new MemoryStream(content) });
        for (int i = 0; i < count; i++)
        {
            string key = $"{shard:D5}{i:D4}";
            Add($"{key}.jpg", Png(new SKColor((byte)(40 * i), (byte)(100 + shard), 30)));
            Add($"{key}.txt", System.Text.Encoding.UTF8.GetBytes($"caption {shard} {i}"));
            Add($"{key}.json", "{}"u8.ToArray());
        }
        foreach (var (name, content) in extra) Add(name, content);
        return path;
    }

    private static DatasetShard[] Files(params string[] paths) => [.. paths.Select(DatasetShard.File)];

    private static TextTokenizer TokenizerFor(IEnumerable<string> shards, IEnumerable<string> documents) =>
        TextTokenizer.BuildGpt2(ShardPrefixLmData.ReadAllTexts(Files([.. shards]), documents), 500);

    [Fact]
    public void ShardReaderGroupsMembersByKeyAndReportsBadMembers()
    {
        string shard = WriteShard(3, 2, ("000030002.txt", "lonely caption"u8.ToArray()), ("noextension", [1]));
        var problems = new List<ShardProblem>();
        var samples = WebDatasetShardReader.Read(shard, problems.Add).ToArray();
        Assert.Equal(["000030000", "000030001", "000030002"], samples.Select(s => s.Key));
        Assert.Equal(["jpg", "json", "txt"], samples[0].Files.Keys.Order());
        Assert.Equal("caption 3 1", System.Text.Encoding.UTF8.GetString(samples[1].Files["txt"]));
        Assert.Contains(problems, p => p.Reason.Contains("noextension"));

        // A truncated archive yields what precedes the damage and says so.
        byte[] bytes = File.ReadAllBytes(shard);
        string truncated = Path.Combine(folder, "truncated.tar");
        File.WriteAllBytes(truncated, bytes[..(bytes.Length / 2 + 100)]);
        problems.Clear();
        var partial = WebDatasetShardReader.Read(truncated, problems.Add).ToArray();
        Assert.NotEmpty(partial);
        Assert.True(partial.Length < samples.Length);
        Assert.Single(problems, p => p.Reason.Contains("unreadable tar"));
    }

    [Fact]
    public void ImagesAreCroppedResizedAndNormalised()
    {
        var preprocessor = new ImagePreprocessor(8);
        float[] pixels = preprocessor.Preprocess(Png(new SKColor(255, 0, 128), 30, 10), out var problem)!;
        Assert.Null(problem);
        Assert.Equal(3 * 8 * 8, pixels.Length);
        Assert.All(pixels[..64], v => Assert.Equal(1f, v, 3));            // red 255 -> +1
        Assert.All(pixels[64..128], v => Assert.Equal(-1f, v, 3));        // green 0 -> -1
        Assert.All(pixels[128..], v => Assert.Equal(128 / 127.5f - 1, v, 2));
        Assert.Null(preprocessor.Preprocess([1, 2, 3, 4], out problem));
        Assert.Equal("not a decodable image", problem);
    }

    [Fact]
    public void EveryGoodSampleComesOncePerEpochAndBadOnesAreCounted()
    {
        string[] shards = [WriteShard(0, 5), WriteShard(1, 4, ("000010004.jpg", Png(SKColors.Blue)))];
        string documents = Path.Combine(folder, "text.jsonl");
        File.WriteAllLines(documents, ["{\"text\": \"a long document about buses\"}", "not json", "{\"text\": \"another document\"}"]);
        var tokenizer = TokenizerFor(shards, [documents]);
        var data = new ShardPrefixLmData(Files(shards), [documents], tokenizer, Config, seed: 1, shuffleBuffer: 4, decodeThreads: 2);

        var epoch = data.NextImageText(9);
        var expected = Enumerable.Range(0, 5).Select(i => $"caption 0 {i}").Concat(Enumerable.Range(0, 4).Select(i => $"caption 1 {i}"));
        Assert.Equal(expected.Order(), epoch.Select(s => tokenizer.Decode(s.Text)).Order());
        Assert.NotEqual(expected, epoch.Select(s => tokenizer.Decode(s.Text)));
        Assert.All(epoch, s => Assert.Equal(3 * Config.ImageSize * Config.ImageSize, s.Pixels!.Length));
        Assert.Equal(1, data.Skipped["sample without a caption"]);

        string broken = WriteShard(2, 3, ("000020003.jpg", [9, 9, 9]), ("000020003.txt", "broken image"u8.ToArray()));
        var withBroken = new ShardPrefixLmData(Files(broken), [], tokenizer, Config, seed: 1, shuffleBuffer: 2, decodeThreads: 2);
        var drawn = withBroken.NextImageText(7); // two whole epochs of three good samples, and one more
        Assert.Equal(7, drawn.Count);
        Assert.DoesNotContain(drawn, s => tokenizer.Decode(s.Text).Contains("broken"));
        Assert.InRange(withBroken.Skipped["image not a decodable image"], 2, 3); // once per epoch reached

        var texts = data.NextTextOnly(4).Select(s => tokenizer.Decode(s.Text)).ToArray();
        Assert.Equal(2, texts.Distinct().Count());
        Assert.True(data.Skipped["document line without a \"text\" string"] >= 1);
    }

    [Fact]
    public void SameSeedSameOrderAndACursorResumesExactly()
    {
        string[] shards = [WriteShard(0, 6), WriteShard(1, 6), WriteShard(2, 6)];
        var tokenizer = TokenizerFor(shards, []);
        ShardPrefixLmData New(ulong seed) => new(Files(shards), [], tokenizer, Config, seed, shuffleBuffer: 5, decodeThreads: 2);
        string Captions(IEnumerable<PrefixLmSample> samples) => string.Join("|", samples.Select(s => tokenizer.Decode(s.Text)));

        var first = New(7);
        string drawnFirst = Captions(first.NextImageText(13));
        Assert.Equal(drawnFirst, Captions(New(7).NextImageText(13)));
        Assert.NotEqual(drawnFirst, Captions(New(8).NextImageText(13)));

        string cursor = first.SaveCursor();
        string next = Captions(first.NextImageText(11)); // crosses into the second epoch
        var resumed = New(7);
        resumed.RestoreCursor(cursor);
        Assert.Equal(next, Captions(resumed.NextImageText(11)));
    }

    [Fact]
    public void ACursorSeeksToItsShardAndRecordWithoutReadingTheRecordsDrawnBefore()
    {
        string[] shards = [.. Enumerable.Range(0, 6).Select(i => WriteShard(i, 8))];
        string documents = Path.Combine(folder, "text.jsonl");
        File.WriteAllLines(documents, Enumerable.Range(0, 12).Select(i => $"{{\"text\": \"document {i} about caption {i} and more words to make a few chunks of text\"}}"));
        var tokenizer = TokenizerFor(shards, [documents]);
        ShardPrefixLmData New() => new(Files(shards), [documents], tokenizer, Config, seed: 3, shuffleBuffer: 4, decodeThreads: 2);
        string Captions(IEnumerable<PrefixLmSample> samples) => string.Join("|", samples.Select(s => tokenizer.Decode(s.Text)));

        var original = New();
        original.NextImageText(33);
        original.NextTextOnly(9);
        string cursor = original.SaveCursor();
        long readBeforeCursor = original.RecordsRead; // at least the 33 drawn images and 4 buffered, and the documents' lines
        string nextImages = Captions(original.NextImageText(30)); // crosses into the second epoch (48 samples each)
        string nextTexts = Captions(original.NextTextOnly(20));

        var resumed = New();
        resumed.RestoreCursor(cursor);
        // Only the shards that hold buffered records are read back, up to their last buffered record, and the
        // document file up to its last buffered line: never the 33 drawn samples' shards from the start.
        long readToRestore = resumed.RecordsRead;
        Assert.True(readBeforeCursor >= 33 + 4, $"the original read {readBeforeCursor}");
        Assert.True(readToRestore <= 2 * 8 + 12, $"restoring read {readToRestore} records");
        Assert.True(readToRestore < readBeforeCursor - 12, $"restoring read {readToRestore} records, the original {readBeforeCursor} to get there");
        Assert.Equal(nextImages, Captions(resumed.NextImageText(30)));
        Assert.Equal(nextTexts, Captions(resumed.NextTextOnly(20)));

        // A cursor of the older form (epoch:drawn per stream) still restores, by replaying.
        var replayed = New();
        replayed.RestoreCursor("0:33;0:9");
        Assert.Equal(nextImages, Captions(replayed.NextImageText(30)));
        Assert.Throws<FormatException>(() => New().RestoreCursor("seek:{not json"));
    }

    [Fact]
    public async Task AResumedShardRunEqualsAnUninterruptedOneAndReadsLessToGetThere()
    {
        string[] shards = [.. Enumerable.Range(0, 4).Select(i => WriteShard(i, 6))];
        var tokenizer = TokenizerFor(shards, []);
        var config = Config with { VocabSize = tokenizer.VocabSize };
        var options = new TrainingOptions { Steps = 6, SamplesPerStep = 4, WarmupSteps = 1, Threads = 1, Device = "cpu", CheckpointEvery = 0, Seed = 5 };
        ShardPrefixLmData New() => new(Files(shards), [], tokenizer, config, seed: 2, shuffleBuffer: 3, decodeThreads: 1);
        async Task Run(SimVlmTrainer trainer, int? stopAfter = null)
        {
            await foreach (var _ in trainer.RunAsync(stopAfter, TestContext.Current.CancellationToken)) { }
        }

        var straightData = New();
        using var straight = SimVlmTrainer.Start(config, options, tokenizer, straightData);
        await Run(straight);

        string run = Path.Combine(folder, "run");
        var firstData = New();
        using (var first = SimVlmTrainer.Start(config, options with { CheckpointDirectory = run }, tokenizer, firstData))
            await Run(first, stopAfter: 4);
        var resumedData = New();
        using var resumed = SimVlmTrainer.Resume(run, resumedData);
        long readToResume = resumedData.RecordsRead;
        await Run(resumed);

        Assert.True(readToResume < 16, $"resuming after 16 drawn samples read {readToResume} records"); // the buffer's 3, from at most 2 shards
        var actual = resumed.Model.named_parameters().ToDictionary(p => p.name, p => TestModels.Values(p.parameter));
        foreach (var (name, parameter) in straight.Model.named_parameters())
        {
            double largest = TestModels.Values(parameter).Zip(actual[name], (a, b) => Math.Abs((double)a - b)).Max();
            Assert.True(largest <= 1e-5, $"{name} differs by {largest:E2} after resuming");
        }
    }

    [Fact]
    public async Task TrainingRunFromShardsResumesAndItsCheckpointCaptionsImageFiles()
    {
        string[] shards = [WriteShard(0, 4), WriteShard(1, 4)];
        string documents = Path.Combine(folder, "text.jsonl");
        File.WriteAllLines(documents, ["{\"text\": \"a caption about nothing in particular\"}"]);
        string run = Path.Combine(folder, "run");
        var request = new TrainingRunRequest
        {
            Shards = Files(shards),
            Documents = [documents],
            Preset = Config with { VocabSize = 500 },
            Options = new TrainingOptions { Steps = 4, SamplesPerStep = 9, WarmupSteps = 1, Threads = 1, Device = "cpu", CheckpointEvery = 2, CheckpointDirectory = run },
            ShuffleBuffer = 3,
        };
        using (var trainer = TrainingRun.Create(request))
        {
            Assert.True(trainer.Model.Config.VocabSize < 500, "the model is sized to the vocabulary seen in the data");
            await foreach (var _ in trainer.RunAsync(stopAfterStep: 2, cancellationToken: TestContext.Current.CancellationToken)) { }
        }
        Assert.Throws<InvalidOperationException>(() => TrainingRun.Create(request)); // would overwrite the run
        using (var resumed = TrainingRun.Create(request with { Resume = true, Options = request.Options with { Steps = 6 } }))
        {
            Assert.Equal(2, resumed.Step);
            var events = new List<TrainingEvent>();
            await foreach (var e in resumed.RunAsync(cancellationToken: TestContext.Current.CancellationToken)) events.Add(e);
            Assert.Equal(6, Assert.IsType<TrainingFinished>(events[^1]).Step);
        }

        string image = Path.Combine(folder, "picture.png");
        File.WriteAllBytes(image, Png(SKColors.Orange));
        var (model, tokenizer) = Checkpoint.LoadForInference(run);
        using (model)
        {
            var captions = new ImageCaptioner(model, tokenizer).Caption([image, Path.Combine(folder, "missing.png")], prompt: "caption", beamSize: 2, maxTokens: 5);
            Assert.NotNull(captions[0].Caption);
            Assert.Null(captions[0].Problem);
            Assert.Equal("no such file", captions[1].Problem);
        }
    }

    [Fact]
    public void ALongDocumentYieldsConsecutiveChunksCoveringAllItsTokens()
    {
        string[] shards = [WriteShard(0, 2)];
        string documents = Path.Combine(folder, "long.jsonl");
        string longText = string.Join(" ", Enumerable.Range(0, 40).Select(i => $"word{i % 7} caption"));
        File.WriteAllLines(documents, [$"{{\"text\": \"{longText}\"}}"]);
        var tokenizer = TokenizerFor(shards, [documents]);
        int[] whole = tokenizer.Encode(longText);
        int length = Config.MaxTextLength;
        Assert.True(whole.Length > 3 * length, "the document must be several text lengths long");
        Assert.NotEqual(1, whole.Length % length); // a last chunk of end-of-text alone would be skipped

        var chunks = ShardPrefixLmData.TextChunks(whole, length);
        Assert.Equal((whole.Length + length - 1) / length, chunks.Count);
        Assert.All(chunks.SkipLast(1), chunk => Assert.Equal(length, chunk.Length));
        Assert.Equal(whole, chunks.SelectMany(chunk => chunk));

        // Drawn through the data: one epoch gives every chunk once, shuffled, instead of the first text length only.
        var data = new ShardPrefixLmData(Files(shards), [documents], tokenizer, Config, seed: 3, shuffleBuffer: 4, decodeThreads: 1);
        var drawn = data.NextTextOnly(chunks.Count);
        Assert.Equal(chunks.Select(c => string.Join(",", c)).Order(), drawn.Select(s => string.Join(",", s.Text)).Order());
    }
}
