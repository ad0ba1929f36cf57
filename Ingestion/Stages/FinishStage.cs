using System.Globalization;
using System.Text.Json;
using Platform.Ingestion.Filters;
using Platform.Ingestion.Pipeline;
using Platform.Ingestion.Text;
using Platform.Datasets;

namespace Platform.Ingestion.Stages;

/// <summary>Where a unit lies in its input (<see cref="Platform.Ingestion.Units.InputUnit.Start"/>) and what its extraction read (<see cref="WarcExtent"/>).</summary>
public readonly record struct UnitPlacement(long Start, long DecompressedStart, long DecompressedBytes);

/// <param name="Attempt">The finishing attempt: its outputs are written aside under its number, then moved into the job's folder.</param>
/// <param name="Units">The accepted attempt's folder of every unit, in input order.</param>
/// <param name="ImageOffsetShifts">Per unit, what turns its images' record offsets into offsets in the whole decompressed file (<see cref="FinishStage.ImageOffsetShifts"/>; null: none to add).</param>
public sealed record FinishRequest(IngestJobLayout Layout, int Attempt, IReadOnlyList<UnitFolder> Units, ExtractionOptions Options,
    IReadOnlyList<long>? ImageOffsetShifts = null);

/// <summary>
/// The run-wide stages of a job extracted in units (<see cref="ExtractUnitStage"/>): every unit's pairs are counted
/// (<see cref="CountPairsStage"/>) and then filtered (<see cref="FrequencyFilterStage"/>) against the counts of the whole
/// job, a chunk at a time; the units' images, funnels, rejections and text are merged, the text with the span dedupe
/// of one run over all inputs. Leaves the outputs of `platform ingest extract` (<see cref="IngestJobLayout.ExtractionOutputs"/>)
/// in the job's folder, line for line those of one process over the same inputs.
/// </summary>
public static class FinishStage
{
    /// <summary>Pairs judged per prefetch of their counts.</summary>
    public const int ChunkSize = 20_000;

    /// <param name="counter">The job's counts, fresh for this attempt; a counter that loses counts throws, failing the attempt.</param>
    /// <returns>The pairs kept.</returns>
    public static async Task<long> RunAsync(FinishRequest request, IBatchedPairFrequencyCounter counter, CancellationToken cancellationToken)
    {
        // Written aside and moved in at the end, so a stale finisher (its silo presumed dead) never interleaves lines with this one.
        var output = new IngestJobLayout(request.Layout.FinishDirectory(request.Attempt));
        if (Directory.Exists(output.Root)) Directory.Delete(output.Root, recursive: true);
        Directory.CreateDirectory(output.Root);
        var pairs = request.Units.SelectMany(unit => PairCandidate.ReadJsonLines(unit.Spool));
        await Task.Run(() => CountPairsStage.Run(pairs, counter, cancellationToken), cancellationToken);
        await counter.FlushAsync();

        var images = MergeImages(request.Units, request.ImageOffsetShifts, output.Images);
        var stats = new FunnelStats();
        foreach (var unit in request.Units)
            FunnelStage.AddStats(stats, await File.ReadAllTextAsync(unit.Stats, cancellationToken));
        await Task.Run(() => WriteTextWithJobWideSpanDedupe(request.Units, output.Text, request.Options.Text, stats, cancellationToken), cancellationToken);
        // Per-pair rejections come first, then the frequency ones, as in one process.
        long kept;
        using (var candidates = new JsonLinesWriter(output.Candidates))
        using (var rejected = new JsonLinesWriter(output.Rejected))
        {
            foreach (var unit in request.Units) rejected.Append(unit.Rejected);
            kept = await Task.Run(() => FrequencyFilterStage.Run(Prefetched(pairs, counter), counter, images, request.Options,
                new FilteredPairsSink(candidates, rejected), stats, cancellationToken), cancellationToken);
        }
        await File.WriteAllTextAsync(output.Stats, stats.ToJson(), cancellationToken);
        foreach (var name in IngestJobLayout.ExtractionOutputs)
            DurableFiles.Move(Path.Combine(output.Root, name), Path.Combine(request.Layout.Root, name), overwrite: true);
        Directory.Delete(output.Root);
        return kept;
    }

    /// <summary>
    /// Per unit, what to add to its images' record offsets to make them offsets in the whole decompressed file: the decompressed bytes
    /// of the units of the same input before it, less where its own offsets count from (zero for whole files and uncompressed parts).
    /// </summary>
    /// <param name="units">Every unit in input order.</param>
    public static long[] ImageOffsetShifts(IReadOnlyList<UnitPlacement> units)
    {
        var shifts = new long[units.Count];
        var before = 0L;
        for (var i = 0; i < units.Count; i++)
        {
            // A file's first unit starts at 0 (a whole file's only unit too), even when the same file is listed twice.
            if (units[i].Start == 0) before = 0;
            shifts[i] = before - units[i].DecompressedStart;
            before += units[i].DecompressedBytes;
        }
        return shifts;
    }

    /// <summary>The pairs a chunk at a time, each chunk's counts fetched before its pairs are judged.</summary>
    private static IEnumerable<PairCandidate> Prefetched(IEnumerable<PairCandidate> pairs, IBatchedPairFrequencyCounter counter)
    {
        foreach (var chunk in pairs.Chunk(ChunkSize))
        {
            counter.PrefetchAsync(chunk.Select(c => (c.ImageUrl, c.AltText!))).GetAwaiter().GetResult();
            foreach (var pair in chunk) yield return pair;
        }
    }

    /// <summary>
    /// First occurrence of each image URL wins, in input order, as in one run's image index. A unit that read a part of a gzip file
    /// numbered its records from the part's start; its images get their offsets in the whole file, as one run over it gives them.
    /// </summary>
    private static InProcessImageIndex MergeImages(IReadOnlyList<UnitFolder> units, IReadOnlyList<long>? offsetShifts, string path)
    {
        var index = new InProcessImageIndex();
        using var merged = new JsonLinesWriter(path);
        for (var unit = 0; unit < units.Count; unit++)
        {
            var shift = offsetShifts?[unit] ?? 0;
            foreach (var line in File.ReadLines(units[unit].Images))
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
    private static void WriteTextWithJobWideSpanDedupe(IReadOnlyList<UnitFolder> units, string destination, TextCleaningOptions options,
        FunnelStats stats, CancellationToken cancellationToken)
    {
        var seen = new InProcessSpanDeduplicator();
        using var output = new JsonLinesWriter(destination);
        foreach (var unit in units)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var local = new List<bool>();
            var job = new List<bool>();
            var changed = false;
            using (var log = new FileStream(unit.Spans, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16))
                foreach (var (hash, firstSeen) in RecordingSpanDeduplicator.Read(log))
                {
                    var answer = seen.FirstSeen(hash);
                    local.Add(firstSeen);
                    job.Add(answer);
                    changed |= answer != firstSeen;
                }
            if (!changed)
            {
                output.Append(unit.Text);
                continue;
            }
            using var calls = File.ReadLines(unit.TextSpans).GetEnumerator();
            foreach (var text in File.ReadLines(unit.Text))
            {
                if (!calls.MoveNext()) throw new InvalidDataException($"{unit.Path} has more text documents than span records");
                var (first, count) = ParseCalls(calls.Current);
                if (local.GetRange(first, count).SequenceEqual(job.GetRange(first, count)))
                {
                    output.RawLine(text);
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
                output.Line(json => JsonLinesSink.WriteText(json, redone));
            }
        }
    }

    private static (int First, int Count) ParseCalls(string line)
    {
        var space = line.IndexOf(' ');
        return (int.Parse(line.AsSpan(0, space), CultureInfo.InvariantCulture), int.Parse(line.AsSpan(space + 1), CultureInfo.InvariantCulture));
    }

    /// <summary>Where the frequency stage puts the job's pairs: kept ones into candidates.jsonl, rejected ones after the units' per-pair rejections.</summary>
    private sealed class FilteredPairsSink(JsonLinesWriter candidates, JsonLinesWriter rejected) : IExtractionSink
    {
        public void Accepted(PairCandidate candidate) => candidates.Line(json => candidate.WriteJson(json));
        public void Rejected(PairCandidate candidate, string reason) => rejected.Line(json => candidate.WriteJson(json, reason));
        public void Text(TextDocument document) => throw new InvalidOperationException("The frequency stage produces no text.");
    }
}
