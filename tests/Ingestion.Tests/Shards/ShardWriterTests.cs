using System.Diagnostics;
using Parquet.Serialization;
using Platform.Datasets;
using Platform.Ingestion.Dedupe;
using Platform.Ingestion.Fetching;
using Platform.Ingestion.Images;
using Platform.Ingestion.Runs;
using Platform.Ingestion.Shards;
using Platform.Ingestion.Stages;
using Platform.Ingestion.Tests.Images;
using Xunit;

namespace Platform.Ingestion.Tests.Shards;

public sealed class ShardWriterTests : IDisposable
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static readonly ImageOptions Images = new()
    {
        MinShorterSide = 32, MinBytes = 0, ResizeMode = ResizeMode.CenterCrop, ImageSize = 48,
    };

    private readonly string _root = Directory.CreateTempSubdirectory("shards").FullName;

    /// <summary>The job's work directory (fetch folders), outside the dataset folders the tests compare.</summary>
    private readonly string _work = Directory.CreateTempSubdirectory("shards-work").FullName;

    public void Dispose()
    {
        Directory.Delete(_root, recursive: true);
        Directory.Delete(_work, recursive: true);
    }

    /// <summary>
    /// 14 candidates: nine good images, an empty payload, a repeated URL, a missing payload, a too-small image and a
    /// re-encoded copy of an earlier image.
    /// </summary>
    internal static List<ImageCandidate> Candidates()
    {
        var list = new List<ImageCandidate>();
        for (var i = 0; i < 9; i++)
            list.Add(new ImageCandidate($"https://img.test/{i}.jpg", $"caption number {i}", TestImages.Jpeg(80, 64, seed: 100 + i)));
        list.Insert(2, new ImageCandidate("https://img.test/empty.jpg", "empty", []));
        list.Insert(4, new ImageCandidate("https://img.test/1.jpg", "same url again", TestImages.Jpeg(80, 64, seed: 999)));
        list.Insert(6, new ImageCandidate("https://img.test/missing.jpg", "nothing embedded"));
        list.Add(new ImageCandidate("https://img.test/tiny.jpg", "too small", TestImages.Jpeg(20, 20, seed: 5)));
        list.Add(new ImageCandidate("https://img.test/copy-of-0.jpg", "re-encoded copy", TestImages.Jpeg(80, 64, seed: 100, quality: 60)));
        return list;
    }

    private InProcessShardPhase Writer(string folder, IImageSource? source = null, int perShard = 5) =>
        Writer(new LocalDatasetFolder(folder), _work, source, perShard);

    internal static InProcessShardPhase Writer(IDatasetStore store, string work, IImageSource? source = null, int perShard = 5) => new(
        store, source ?? new EmbeddedImageSource(), new ImageProcessor(Images), new DedupeOptions(),
        new ShardWriterOptions { SamplesPerShard = perShard, MaxParallelism = 2, WindowPerWorker = 1 }, new IngestJobLayout(work));

    private static string[] GnuTarList(string tarPath)
    {
        var start = new ProcessStartInfo("tar", ["-tf", tarPath]) { RedirectStandardOutput = true, RedirectStandardError = true };
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        Assert.True(process.ExitCode == 0, process.StandardError.ReadToEnd());
        return output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
    }

    private static string GnuTarExtract(string tarPath, string member)
    {
        var start = new ProcessStartInfo("tar", ["-xOf", tarPath, member]) { RedirectStandardOutput = true };
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        Assert.Equal(0, process.ExitCode);
        return output;
    }

    private static async Task<List<SampleRecord>> ReadParquet(string path)
    {
        await using var stream = File.OpenRead(path);
        return [.. (await ParquetSerializer.DeserializeAsync<SampleRecord>(stream, cancellationToken: Ct)).Data];
    }

    [Fact]
    public async Task Gnu_tar_lists_each_shard_with_members_grouped_by_key_in_order()
    {
        var summary = await Writer(_root).RunAsync(Candidates(), "job", Ct);

        Assert.Equal(3, summary.ShardsWritten);
        foreach (var shard in new[] { "00000", "00001", "00002" })
        {
            var rows = await ReadParquet(Path.Combine(_root, $"{shard}.parquet"));
            var expected = rows.Where(r => r.Status == SampleStatus.Success)
                .SelectMany(r => new[] { $"{r.Key}.jpg", $"{r.Key}.txt", $"{r.Key}.json" }).ToArray();
            Assert.NotEmpty(expected);
            Assert.Equal(expected, GnuTarList(Path.Combine(_root, $"{shard}.tar")));
            var first = rows.First(r => r.Status == SampleStatus.Success);
            Assert.Equal(first.Caption, GnuTarExtract(Path.Combine(_root, $"{shard}.tar"), $"{first.Key}.txt"));
        }
    }

    [Fact]
    public async Task Parquet_has_one_row_per_attempted_sample_with_status_and_reason()
    {
        await Writer(_root).RunAsync(Candidates(), "job", Ct);

        var rows = new List<SampleRecord>();
        foreach (var shard in new[] { "00000", "00001", "00002" }) rows.AddRange(await ReadParquet(Path.Combine(_root, $"{shard}.parquet")));

        Assert.Equal(Candidates().Select(c => c.Url), rows.Select(r => r.Url));
        Assert.Equal(["000000000", "000000001", "000000002", "000000003", "000000004", "000010000"], rows.Take(6).Select(r => r.Key));
        var byUrl = rows.GroupBy(r => r.Url).ToDictionary(g => g.Key, g => g.ToList());
        Assert.Equal(("rejected", "empty_payload"), (byUrl["https://img.test/empty.jpg"][0].Status, byUrl["https://img.test/empty.jpg"][0].ErrorMessage));
        Assert.Equal(("duplicate", "duplicate_url"), (byUrl["https://img.test/1.jpg"][1].Status, byUrl["https://img.test/1.jpg"][1].ErrorMessage));
        Assert.Equal(("failed_to_download", "no_payload"), (byUrl["https://img.test/missing.jpg"][0].Status, byUrl["https://img.test/missing.jpg"][0].ErrorMessage));
        Assert.Equal(("rejected", "too_small"), (byUrl["https://img.test/tiny.jpg"][0].Status, byUrl["https://img.test/tiny.jpg"][0].ErrorMessage));
        Assert.Equal(("duplicate", "near_duplicate_image"), (byUrl["https://img.test/copy-of-0.jpg"][0].Status, byUrl["https://img.test/copy-of-0.jpg"][0].ErrorMessage));
        var success = byUrl["https://img.test/0.jpg"][0];
        Assert.Equal((48, 48, 80, 64), (success.Width!.Value, success.Height!.Value, success.OriginalWidth!.Value, success.OriginalHeight!.Value));
        Assert.Equal(64, success.Sha256!.Length);
        Assert.Equal(16, success.Phash!.Length);
    }

    [Fact]
    public async Task Stats_count_every_status_and_reason()
    {
        var summary = await Writer(_root).RunAsync(Candidates(), "job", Ct);

        var stats = new[] { "00000", "00001", "00002" }
            .Select(s => ShardStats.FromJson(File.ReadAllBytes(Path.Combine(_root, $"{s}_stats.json")))).ToList();
        Assert.Equal(14, stats.Sum(s => s.Attempted));
        Assert.Equal(9, stats.Sum(s => s.Successes));
        Assert.Equal(9, summary.Totals.StatusCounts["success"]);
        Assert.Equal(1, summary.Totals.ReasonCounts["empty_payload"]);
        Assert.Equal(1, summary.Totals.ReasonCounts["duplicate_url"]);
        Assert.Equal(1, summary.Totals.ReasonCounts["no_payload"]);
        Assert.Equal(1, summary.Totals.ReasonCounts["too_small"]);
        Assert.Equal(1, summary.Totals.ReasonCounts["near_duplicate_image"]);
    }

    /// <summary>Stands in for a crash: cancels the run when the n-th candidate is fetched.</summary>
    internal sealed class CrashingSource(int crashAtCandidate, CancellationTokenSource crash) : IImageSource
    {
        private int _fetched;

        public Task<FetchResult> FetchAsync(ImageCandidate candidate, CancellationToken cancellationToken)
        {
            if (Interlocked.Increment(ref _fetched) == crashAtCandidate) crash.Cancel();
            cancellationToken.ThrowIfCancellationRequested();
            return new EmbeddedImageSource().FetchAsync(candidate, cancellationToken);
        }
    }

    internal static Dictionary<string, byte[]> Snapshot(string folder) => Directory
        .EnumerateFiles(folder, "*", SearchOption.AllDirectories)
        .ToDictionary(path => Path.GetRelativePath(folder, path), File.ReadAllBytes);

    internal static void AssertSameFiles(Dictionary<string, byte[]> expected, Dictionary<string, byte[]> actual)
    {
        Assert.Equal(expected.Keys.Order(), actual.Keys.Order());
        foreach (var (name, bytes) in expected) Assert.True(bytes.AsSpan().SequenceEqual(actual[name]), $"{name} differs");
    }

    [Fact]
    public async Task Crash_mid_shard_then_rerun_gives_the_same_files_as_an_uninterrupted_run()
    {
        var uninterrupted = Path.Combine(_root, "uninterrupted");
        await Writer(uninterrupted).RunAsync(Candidates(), "job", Ct);

        var crashed = Path.Combine(_root, "crashed");
        using var crash = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() =>
            Writer(crashed, new CrashingSource(crashAtCandidate: 8, crash)).RunAsync(Candidates(), "job", crash.Token));

        Assert.True(File.Exists(Path.Combine(crashed, "00000_stats.json")));
        Assert.False(File.Exists(Path.Combine(crashed, "00001.tar")), "an unfinished shard's tar must not be visible");
        Assert.False(File.Exists(Path.Combine(crashed, "00001_stats.json")));
        var firstShardWrittenAt = File.GetLastWriteTimeUtc(Path.Combine(crashed, "00000.tar"));

        var summary = await Writer(crashed).RunAsync(Candidates(), "job", Ct);

        Assert.Equal((2, 1), (summary.ShardsWritten, summary.ShardsAlreadyCommitted));
        Assert.Equal(firstShardWrittenAt, File.GetLastWriteTimeUtc(Path.Combine(crashed, "00000.tar")));
        AssertSameFiles(Snapshot(uninterrupted), Snapshot(crashed));
    }

    [Fact]
    public async Task Shard_without_its_stats_marker_is_redone_even_when_its_tar_was_published()
    {
        var uninterrupted = Path.Combine(_root, "uninterrupted");
        await Writer(uninterrupted).RunAsync(Candidates(), "job", Ct);
        var expected = Snapshot(uninterrupted);

        // A crash between publishing the tar and the stats file; make the tar look damaged too.
        File.Delete(Path.Combine(uninterrupted, "00001_stats.json"));
        File.WriteAllBytes(Path.Combine(uninterrupted, "00001.tar"), expected["00001.tar"][..700]);
        File.WriteAllBytes(Path.Combine(uninterrupted, ".00002.tar.partial"), [1, 2, 3]);

        var summary = await Writer(uninterrupted).RunAsync(Candidates(), "job", Ct);

        Assert.Equal(1, summary.ShardsWritten);
        AssertSameFiles(expected, Snapshot(uninterrupted));
    }

    [Fact]
    public async Task Second_job_into_the_same_dataset_skips_what_the_first_holds()
    {
        await Writer(_root).RunAsync(Candidates(), "first", Ct);

        var again = new List<ImageCandidate>
        {
            new("https://img.test/3.jpg", "same url", TestImages.Jpeg(80, 64, seed: 777)),
            new("https://mirror.test/3.jpg", "same image elsewhere", TestImages.Jpeg(80, 64, seed: 103)),
            new("https://img.test/new.jpg", "new image", TestImages.Jpeg(80, 64, seed: 778)),
        };
        var summary = await Writer(_root).RunAsync(again, "second", Ct);

        Assert.Equal(3, summary.FirstShard);
        var rows = await ReadParquet(Path.Combine(_root, "00003.parquet"));
        Assert.Equal(["duplicate_url", "duplicate_image_bytes", null], rows.Select(r => r.ErrorMessage));
        Assert.Equal("000030002", rows[2].Key);
    }

    private sealed class CountingSource : IImageSource
    {
        public int Fetched;

        public Task<FetchResult> FetchAsync(ImageCandidate candidate, CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref Fetched);
            return new EmbeddedImageSource().FetchAsync(candidate, cancellationToken);
        }
    }

    [Fact]
    public async Task Dedupe_decided_one_sample_at_a_time_is_refused_before_anything_is_fetched()
    {
        var source = new CountingSource();
        var phase = new InProcessShardPhase(new LocalDatasetFolder(_root), source, new ImageProcessor(Images), new DedupeOptions { MaxImagesPerCaption = 2 },
            new ShardWriterOptions { SamplesPerShard = 5 }, new IngestJobLayout(_work));

        await Assert.ThrowsAsync<NotSupportedException>(() => phase.RunAsync(Candidates(), "job", Ct));

        Assert.Equal(0, source.Fetched);
        Assert.Empty(Directory.EnumerateFiles(_root, "*", SearchOption.AllDirectories));
    }

    private sealed class ThrowingSource(string badUrl) : IImageSource
    {
        public Task<FetchResult> FetchAsync(ImageCandidate candidate, CancellationToken cancellationToken) =>
            candidate.Url == badUrl
                ? throw new InvalidOperationException("source bug")
                : new EmbeddedImageSource().FetchAsync(candidate, cancellationToken);
    }

    [Fact]
    public async Task A_source_that_throws_for_one_sample_costs_only_that_sample()
    {
        var summary = await Writer(_root, new ThrowingSource("https://img.test/3.jpg")).RunAsync(Candidates(), "job", Ct);

        Assert.Equal(14, summary.Totals.Attempted);
        Assert.Equal(8, summary.Totals.Successes);
        Assert.Equal(1, summary.Totals.ReasonCounts[FetchShardStage.SourceError]);
    }
}
