using Platform.Datasets;
using Platform.Model.Training;
using SkiaSharp;

namespace Platform.Model.Tests;

/// <summary>Setting up runs from shards on disk, as `platform train` and the scheduled trainers do.</summary>
public sealed class TrainingRunTests : IDisposable
{
    private readonly string folder = Directory.CreateTempSubdirectory("simvlm-run-").FullName;

    public void Dispose() => Directory.Delete(folder, recursive: true);

    private async Task<DatasetShard> WriteShardAsync(int samples)
    {
        string path = Path.Combine(folder, "00000.tar");
        await using (var stream = File.Create(path))
        await using (var writer = new WebDatasetShardWriter(stream))
        {
            for (int i = 0; i < samples; i++)
            {
                using var bitmap = new SKBitmap(24, 24);
                bitmap.Erase(new SKColor((byte)(37 * i), (byte)(200 - 23 * i), (byte)(90 + 11 * i)));
                using var image = bitmap.Encode(SKEncodedImageFormat.Jpeg, 90);
                var record = new SampleRecord { Key = $"0000000{i:D2}", Caption = $"shape {i} on a plain background", Status = SampleStatus.Success };
                await writer.WriteSampleAsync(record, image.ToArray(), TestContext.Current.CancellationToken);
            }
        }
        return DatasetShard.File(path);
    }

    private static TrainingRunRequest Request(DatasetShard shard, string checkpoints) => new()
    {
        Shards = [shard],
        Preset = TestModels.Micro with { Dropout = 0.1 }, // dropout makes the torch generator part of the resumed state
        ShuffleBuffer = 4,
        Options = new TrainingOptions
        {
            Steps = 6, SamplesPerStep = 4, PeakLearningRate = 1e-3, WarmupSteps = 2, Threads = 1, Seed = 9, Device = "cpu",
            CheckpointEvery = 0, CheckpointDirectory = checkpoints,
        },
    };

    private static async Task<List<TrainingEvent>> RunAsync(SimVlmTrainer trainer, int? stopAfterStep = null)
    {
        var events = new List<TrainingEvent>();
        await foreach (var e in trainer.RunAsync(stopAfterStep, TestContext.Current.CancellationToken)) events.Add(e);
        return events;
    }

    private static Dictionary<string, float[]> Weights(SimVlmTrainer trainer) =>
        trainer.Model.named_parameters().ToDictionary(p => p.name, p => TestModels.Values(p.parameter));

    [Fact]
    public async Task CreateOrResumeStartsAnEmptyFolderAndContinuesAnInterruptedRunToTheUninterruptedWeights()
    {
        var shard = await WriteShardAsync(samples: 7);

        using var straight = TrainingRun.CreateOrResume(Request(shard, Path.Combine(folder, "straight")));
        Assert.Equal(0, straight.Step);
        await RunAsync(straight);
        var expected = Weights(straight);

        string interrupted = Path.Combine(folder, "interrupted");
        using (var first = TrainingRun.CreateOrResume(Request(shard, interrupted)))
        {
            var events = await RunAsync(first, stopAfterStep: 3);
            Assert.Equal(3, Assert.Single(events.OfType<CheckpointSaved>()).Step);
        }
        using var resumed = TrainingRun.CreateOrResume(Request(shard, interrupted));
        Assert.Equal(3, resumed.Step);
        var rest = await RunAsync(resumed);
        Assert.Equal([4, 5, 6], rest.OfType<StepCompleted>().Select(e => e.Metrics.Step));

        var actual = Weights(resumed);
        Assert.Equal(expected.Keys, actual.Keys);
        foreach (var (name, values) in expected)
        {
            double largest = values.Zip(actual[name], (a, b) => Math.Abs((double)a - b)).Max();
            Assert.True(largest <= 1e-5, $"{name} differs by {largest} after resuming");
        }
    }

    [Fact]
    public async Task CreateRefusesAFolderWithCheckpointsUnlessAskedToResume()
    {
        var shard = await WriteShardAsync(samples: 3);
        string checkpoints = Path.Combine(folder, "run");
        using (var first = TrainingRun.CreateOrResume(Request(shard, checkpoints)))
            await RunAsync(first, stopAfterStep: 1);

        var error = Assert.Throws<InvalidOperationException>(() => TrainingRun.Create(Request(shard, checkpoints)));
        Assert.Contains("--resume", error.Message);
    }

    private static void CutInHalf(string file)
    {
        using var stream = new FileStream(file, FileMode.Open, FileAccess.ReadWrite);
        stream.SetLength(stream.Length / 2);
    }

    [Fact]
    public async Task ResumeSkipsANewestCheckpointWhoseModelIsCutInHalfAndEndsWithTheUninterruptedWeights()
    {
        var shard = await WriteShardAsync(samples: 7);
        using var straight = TrainingRun.CreateOrResume(Request(shard, Path.Combine(folder, "straight")));
        await RunAsync(straight);
        var expected = Weights(straight);

        string interrupted = Path.Combine(folder, "interrupted");
        var everyTwo = Request(shard, interrupted) with { Options = Request(shard, interrupted).Options with { CheckpointEvery = 2 } };
        using (var first = TrainingRun.CreateOrResume(everyTwo))
            Assert.Equal([2, 4], (await RunAsync(first, stopAfterStep: 4)).OfType<CheckpointSaved>().Select(e => e.Step));
        string cut = Path.Combine(interrupted, Checkpoint.FolderName(4), Checkpoint.ModelFile);
        CutInHalf(cut);

        using var resumed = TrainingRun.Create(everyTwo with { Resume = true });
        Assert.Equal(2, resumed.Step);
        Assert.StartsWith(cut + ": ", Assert.Single(resumed.SkippedCheckpoints));
        Assert.Equal([3, 4, 5, 6], (await RunAsync(resumed)).OfType<StepCompleted>().Select(e => e.Metrics.Step));

        var actual = Weights(resumed);
        foreach (var (name, values) in expected)
        {
            double largest = values.Zip(actual[name], (a, b) => Math.Abs((double)a - b)).Max();
            Assert.True(largest <= 1e-5, $"{name} differs by {largest} after resuming past a cut checkpoint");
        }
        // The redone step 4 replaced the cut folder rather than keeping it because it was there.
        Assert.Equal(new FileInfo(Path.Combine(interrupted, Checkpoint.FolderName(2), Checkpoint.ModelFile)).Length, new FileInfo(cut).Length);
    }

    [Fact]
    public async Task ResumeWithNoLoadableCheckpointNamesEachBrokenFileAndWhy()
    {
        var shard = await WriteShardAsync(samples: 3);
        string checkpoints = Path.Combine(folder, "run");
        var everyStep = Request(shard, checkpoints) with { Options = Request(shard, checkpoints).Options with { CheckpointEvery = 1 } };
        using (var first = TrainingRun.CreateOrResume(everyStep))
            await RunAsync(first, stopAfterStep: 2);
        string garbled = Path.Combine(checkpoints, Checkpoint.FolderName(2), Checkpoint.StateFile);
        File.WriteAllText(garbled, "{ not json");
        string cut = Path.Combine(checkpoints, Checkpoint.FolderName(1), Checkpoint.ModelFile);
        CutInHalf(cut);

        var error = Assert.Throws<InvalidDataException>(() => TrainingRun.CreateOrResume(everyStep));
        Assert.Contains(garbled + ": ", error.Message);
        Assert.Contains(cut + ": ", error.Message);
    }
}
