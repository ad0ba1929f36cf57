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
}
