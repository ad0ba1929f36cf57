using Platform.Datasets;
using Platform.Model.Training;
using Platform.Tests.Infrastructure;
using SkiaSharp;

namespace Platform.Tests.Training;

/// <summary>`platform train --resume` as a real process when checkpoints on disk are damaged.</summary>
public sealed class TrainResumeCommandTests : IDisposable
{
    private readonly string root = Directory.CreateTempSubdirectory("train-resume-").FullName;

    public void Dispose() => Directory.Delete(root, recursive: true);

    private Task<string> WriteShardAsync() => WriteShardAsync(root);

    /// <summary>A shard of six 32x32 one-colour squares with their captions, as `platform train --data` takes it.</summary>
    internal static async Task<string> WriteShardAsync(string root)
    {
        string path = Path.Combine(root, "00000.tar");
        await using var stream = File.Create(path);
        await using var writer = new WebDatasetShardWriter(stream);
        for (int i = 0; i < 6; i++)
        {
            using var bitmap = new SKBitmap(32, 32);
            bitmap.Erase(new SKColor((byte)(40 * i), (byte)(220 - 30 * i), (byte)(60 + 25 * i)));
            using var image = bitmap.Encode(SKEncodedImageFormat.Jpeg, 90);
            var record = new SampleRecord { Key = $"00000{i:D4}", Caption = $"a plain square of colour number {i}", Status = SampleStatus.Success };
            await writer.WriteSampleAsync(record, image.ToArray(), TestContext.Current.CancellationToken);
        }
        return path;
    }

    private static Task<PlatformCommand.Result> TrainAsync(string shard, string run, int steps, params string[] more) => PlatformCommand.RunAsync(
        TimeSpan.FromMinutes(3),
        ["train", "--data", shard, "--preset", "tiny", "--steps", steps.ToString(System.Globalization.CultureInfo.InvariantCulture), "--batch", "2",
            "--warmup", "1", "--threads", "1", "--device", "cpu", "--checkpoint-every", "2", "--out", run, .. more]);

    private static void CutInHalf(string file)
    {
        using var stream = new FileStream(file, FileMode.Open, FileAccess.ReadWrite);
        stream.SetLength(stream.Length / 2);
    }

    private static Dictionary<string, float[]> Weights(string checkpoint)
    {
        var (model, _) = Checkpoint.LoadForInference(checkpoint);
        using (model) return model.named_parameters().ToDictionary(p => p.name, p => p.parameter.data<float>().ToArray());
    }

    [Fact]
    public async Task Resume_past_a_newest_model_cut_in_half_continues_from_the_previous_checkpoint_to_the_uninterrupted_weights()
    {
        string shard = await WriteShardAsync();
        string straight = Path.Combine(root, "straight"), interrupted = Path.Combine(root, "interrupted");
        var uninterrupted = await TrainAsync(shard, straight, steps: 4);
        Assert.True(uninterrupted.ExitCode == 0, uninterrupted.StandardError);
        var first = await TrainAsync(shard, interrupted, steps: 3);
        Assert.True(first.ExitCode == 0, first.StandardError);
        string cut = Path.Combine(interrupted, Checkpoint.FolderName(3), Checkpoint.ModelFile);
        CutInHalf(cut);

        var resumed = await TrainAsync(shard, interrupted, steps: 4, "--resume");

        Assert.True(resumed.ExitCode == 0, resumed.StandardOutput + resumed.StandardError);
        Assert.Contains("from_step=2", resumed.StandardOutput);
        Assert.Contains(cut, resumed.StandardError);
        var expected = Weights(Path.Combine(straight, Checkpoint.FolderName(4)));
        var actual = Weights(Path.Combine(interrupted, Checkpoint.FolderName(4)));
        Assert.Equal(expected.Keys, actual.Keys);
        foreach (var (name, values) in expected)
        {
            double largest = values.Zip(actual[name], (a, b) => Math.Abs((double)a - b)).Max();
            Assert.True(largest <= 1e-5, $"{name} differs by {largest} from the uninterrupted run");
        }
    }

    [Fact]
    public async Task Resume_when_no_checkpoint_loads_exits_with_2_naming_the_files_without_a_stack_trace()
    {
        string shard = await WriteShardAsync();
        string run = Path.Combine(root, "run");
        var first = await TrainAsync(shard, run, steps: 3);
        Assert.True(first.ExitCode == 0, first.StandardError);
        string newest = Path.Combine(run, Checkpoint.FolderName(3), Checkpoint.ModelFile), older = Path.Combine(run, Checkpoint.FolderName(2), Checkpoint.ModelFile);
        CutInHalf(newest);
        CutInHalf(older);

        var resumed = await TrainAsync(shard, run, steps: 4, "--resume");

        Assert.Equal(2, resumed.ExitCode);
        Assert.Contains(newest, resumed.StandardError);
        Assert.Contains(older, resumed.StandardError);
        Assert.DoesNotContain("   at ", resumed.StandardError);
    }
}
