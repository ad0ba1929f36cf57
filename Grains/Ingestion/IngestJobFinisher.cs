using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Platform.Ingestion.Pipeline;
using Platform.Ingestion.Text;

namespace Platform.Grains.Ingestion;

/// <param name="UnitDirectories">The accepted attempt's directory of every unit, in input order.</param>
/// <param name="ImageOffsetShifts">Per unit, what turns its images' record offsets into offsets in the whole decompressed file (null: none to add).</param>
public sealed record FinishRequest(string JobId, int Attempt, IReadOnlyList<string> UnitDirectories, string OutputDirectory, ExtractionOptions Options,
    IReadOnlyList<long>? ImageOffsetShifts = null);

/// <summary>
/// The final phase of a distributed extraction, two-phase over the partitioned count grains:
/// every unit's pairs are counted (batched, under a scope of their own per attempt), then every pair
/// is judged by <see cref="ExtractionRun.Finish"/> against counts fetched a chunk at a time. Writes
/// the outputs of `platform ingest extract` (candidates.jsonl, rejected.jsonl, text.jsonl,
/// images.jsonl, stats.json) in the same order as the single-process run over the same inputs.
/// A lost count partition (<see cref="PairCountsLostException"/>) fails the attempt; the job retries
/// under a fresh scope.
/// </summary>
public static class IngestJobFinisher
{
    /// <summary>Pairs judged per snapshot fetch.</summary>
    public const int ChunkSize = 20_000;

    public static readonly IReadOnlyList<string> OutputFiles = ["candidates.jsonl", "rejected.jsonl", "text.jsonl", "images.jsonl", "stats.json"];

    public static async Task<long> RunAsync(IGrainFactory grains, FinishRequest request, CancellationToken cancellationToken)
    {
        // Written aside and moved in at the end, so a stale finisher (its silo presumed dead) never interleaves lines with this one.
        var output = Path.Combine(request.OutputDirectory, $".finish-{request.Attempt}");
        if (Directory.Exists(output)) Directory.Delete(output, recursive: true);
        Directory.CreateDirectory(output);
        var spools = request.UnitDirectories.Select(d => Path.Combine(d, IngestUnitExtraction.SpoolFile)).ToList();
        var counter = new GrainPairFrequencyCounter(grains, $"{request.JobId}/finish-{request.Attempt}", request.Options.Frequency);
        try
        {
            await Task.Run(() =>
            {
                foreach (var spool in spools)
                    foreach (var candidate in IngestUnitExtraction.ReadSpool(spool))
                    {
                        cancellationToken.ThrowIfCancellationRequested();
                        counter.Observe(candidate.ImageUrl, candidate.AltText!);
                    }
            }, cancellationToken);
            await counter.FlushAsync();

            var images = MergeImages(request.UnitDirectories, request.ImageOffsetShifts, Path.Combine(output, "images.jsonl"));
            var stats = new FunnelStats();
            foreach (var directory in request.UnitDirectories)
                AddStats(stats, await File.ReadAllTextAsync(Path.Combine(directory, IngestUnitExtraction.StatsFile), cancellationToken));
            await Task.Run(() => WriteTextWithJobWideSpanDedupe(request.UnitDirectories, Path.Combine(output, "text.jsonl"), request.Options.Text, stats,
                cancellationToken), cancellationToken);
            // Per-pair rejections come first, then the frequency ones, as in the single-process run.
            Concatenate(request.UnitDirectories, "rejected.jsonl", Path.Combine(output, "rejected.jsonl"));
            long kept;
            using (var candidates = new JsonLinesFile(Path.Combine(output, "candidates.jsonl")))
            using (var rejected = new JsonLinesFile(Path.Combine(output, "rejected.jsonl"), FileMode.Append))
            using (var run = new ExtractionRun(request.Options, new FinalSink(candidates, rejected), new PrefetchingSpool(spools, counter), counter, images))
            {
                await Task.Run(() => run.Finish(cancellationToken), cancellationToken);
                stats.Merge(run.Stats);
                kept = run.PairsKept;
            }
            await File.WriteAllTextAsync(Path.Combine(output, "stats.json"), stats.ToJson(), cancellationToken);
            foreach (var name in OutputFiles) File.Move(Path.Combine(output, name), Path.Combine(request.OutputDirectory, name), overwrite: true);
            Directory.Delete(output);
            return kept;
        }
        finally
        {
            await counter.ReleaseAsync();
        }
    }

    /// <summary>
    /// First occurrence of each image URL wins, in input order, as in one run's image index. A unit that read a part of a gzip file
    /// numbered its records from the part's start; its images get their offsets in the whole file, as one run over it gives them.
    /// </summary>
    private static InProcessImageIndex MergeImages(IReadOnlyList<string> unitDirectories, IReadOnlyList<long>? offsetShifts, string path)
    {
        var index = new InProcessImageIndex();
        using var merged = new JsonLinesFile(path);
        for (var unit = 0; unit < unitDirectories.Count; unit++)
        {
            var shift = offsetShifts?[unit] ?? 0;
            foreach (var line in File.ReadLines(Path.Combine(unitDirectories[unit], IngestUnitExtraction.ImagesFile)))
            {
                if (line.Length == 0) continue;
                using var document = JsonDocument.Parse(line);
                var image = DumpedImage.ReadJson(document.RootElement);
                if (index.TryGet(image.Url, out _)) continue;
                if (shift != 0) image = image with { Offset = image.Offset + shift };
                index.Add(image);
                merged.Line(image.WriteJson);
            }
        }
        return index;
    }

    /// <summary>
    /// The units' text documents in input order, with the span dedupe of one run over all inputs: every span call
    /// of every unit is answered again, in input order, by one deduplicator for the whole job (a call's answer is
    /// "first seen" when no earlier call of the job offered its hash). Units whose answers all agree are copied as
    /// they are; in the others, each document with a changed answer has its dedupe step redone
    /// (<see cref="SpanDedupeReplay"/>), which may shorten it or reject it, and the funnel's text stage says so.
    /// Documents a unit rejected stay rejected: the job-wide answers only ever find more repeats.
    /// </summary>
    private static void WriteTextWithJobWideSpanDedupe(IReadOnlyList<string> unitDirectories, string destination, TextCleaningOptions options,
        FunnelStats stats, CancellationToken cancellationToken)
    {
        var seen = new InProcessSpanDeduplicator();
        var line = new ArrayBufferWriter<byte>(1 << 12);
        using var json = new Utf8JsonWriter(line, new JsonWriterOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping });
        using var output = new FileStream(destination, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16);
        foreach (var directory in unitDirectories)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var local = new List<bool>();
            var job = new List<bool>();
            var changed = false;
            using (var log = new FileStream(Path.Combine(directory, IngestUnitExtraction.SpansFile), FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16))
                foreach (var (hash, firstSeen) in RecordingSpanDeduplicator.Read(log))
                {
                    var answer = seen.FirstSeen(hash);
                    local.Add(firstSeen);
                    job.Add(answer);
                    changed |= answer != firstSeen;
                }
            var texts = Path.Combine(directory, "text.jsonl");
            if (!changed)
            {
                using var input = File.OpenRead(texts);
                input.CopyTo(output);
                continue;
            }
            using var calls = File.ReadLines(Path.Combine(directory, IngestUnitExtraction.TextSpansFile)).GetEnumerator();
            foreach (var text in File.ReadLines(texts))
            {
                if (!calls.MoveNext()) throw new InvalidDataException($"{directory} has more text documents than span records");
                var (first, count) = ParseCalls(calls.Current);
                if (local.GetRange(first, count).SequenceEqual(job.GetRange(first, count)))
                {
                    output.Write(Encoding.UTF8.GetBytes(text));
                    output.WriteByte((byte)'\n');
                    continue;
                }
                TextDocument document;
                using (var parsed = JsonDocument.Parse(text))
                    document = JsonLinesSink.ReadText(parsed.RootElement) with { Spans = count };
                var redone = SpanDedupeReplay.Apply(document, local.GetRange(first, count).ToArray(), job.GetRange(first, count).ToArray(), options, out var rejection);
                if (redone is null)
                {
                    stats.Overturn(ExtractionRun.TextStage, rejection!);
                    continue;
                }
                JsonLinesSink.WriteText(json, redone);
                json.Flush();
                output.Write(line.WrittenSpan);
                output.WriteByte((byte)'\n');
                line.ResetWrittenCount();
                json.Reset(line);
            }
        }
    }

    private static (int First, int Count) ParseCalls(string line)
    {
        var space = line.IndexOf(' ');
        return (int.Parse(line.AsSpan(0, space), CultureInfo.InvariantCulture), int.Parse(line.AsSpan(space + 1), CultureInfo.InvariantCulture));
    }

    private static void Concatenate(IReadOnlyList<string> unitDirectories, string name, string destination)
    {
        using var output = new FileStream(destination, FileMode.Create, FileAccess.Write);
        foreach (var directory in unitDirectories)
        {
            using var input = File.OpenRead(Path.Combine(directory, name));
            input.CopyTo(output);
        }
    }

    /// <summary>Replays a unit's stats.json into the job's funnel.</summary>
    public static void AddStats(FunnelStats stats, string json)
    {
        using var document = JsonDocument.Parse(json);
        foreach (var stage in document.RootElement.GetProperty("stages").EnumerateArray())
        {
            var name = stage.GetProperty("stage").GetString()!;
            stats.Enter(name, stage.GetProperty("in").GetInt64());
            stats.Pass(name, stage.GetProperty("passed").GetInt64());
            foreach (var reason in stage.GetProperty("rejected").EnumerateObject()) stats.Reject(name, reason.Name, reason.Value.GetInt64());
            foreach (var note in stage.GetProperty("notes").EnumerateObject()) stats.Note(name, note.Name, note.Value.GetInt64());
        }
    }

    /// <summary>Hands the units' pairs to <see cref="ExtractionRun.Finish"/> a chunk at a time, fetching each chunk's counts first.</summary>
    private sealed class PrefetchingSpool(IReadOnlyList<string> spools, GrainPairFrequencyCounter counter) : ICandidateSpool
    {
        public void Append(PairCandidate candidate) => throw new NotSupportedException("The final phase only reads the units' spools.");

        public IEnumerable<PairCandidate> ReadAll()
        {
            var chunk = new List<PairCandidate>(ChunkSize);
            foreach (var candidate in spools.SelectMany(IngestUnitExtraction.ReadSpool))
            {
                chunk.Add(candidate);
                if (chunk.Count < ChunkSize) continue;
                foreach (var ready in Fetched(chunk)) yield return ready;
                chunk.Clear();
            }
            foreach (var ready in Fetched(chunk)) yield return ready;
        }

        private List<PairCandidate> Fetched(List<PairCandidate> chunk)
        {
            counter.PrefetchAsync(chunk.Select(c => (c.ImageUrl, c.AltText!))).GetAwaiter().GetResult();
            return chunk;
        }

        public void Dispose() { }
    }

    private sealed class FinalSink(JsonLinesFile candidates, JsonLinesFile rejected) : IExtractionSink
    {
        public void Accepted(PairCandidate candidate) => candidates.Line(json => candidate.WriteJson(json));
        public void Rejected(PairCandidate candidate, string reason) => rejected.Line(json => candidate.WriteJson(json, reason));
        public void Text(Platform.Ingestion.Text.TextDocument document) => throw new InvalidOperationException("The final phase produces no text.");
    }
}
