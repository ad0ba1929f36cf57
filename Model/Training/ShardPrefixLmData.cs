using System.Collections.Concurrent;
using System.Text.Json;
using Platform.Datasets;

namespace Platform.Model.Training;

/// <summary>
/// Streams training samples from WebDataset shards ({key}.jpg + {key}.txt) and text-only documents
/// (JSON lines with a "text" field). Each epoch visits the shards in a seeded order through a
/// shuffle buffer; images are decoded in parallel only when drawn. The cursor holds, per stream, the
/// epoch, the samples drawn, the shuffle's generator, where in the epoch's shards (or documents) reading
/// stopped and where each buffered record came from: restoring opens no shard before the one reading
/// stopped in and reads back only the buffered records, so a resumed run sees exactly the samples the
/// original would have without reading what it already drew. Unusable records are counted by reason
/// and skipped. A document longer than the text length becomes consecutive chunks of that length
/// (<see cref="TextChunks"/>), each a sample of its own, so that long texts (C4's) are used whole.
/// </summary>
public sealed class ShardPrefixLmData : IPrefixLmData
{
    private readonly ShuffledStream<ImageTextRecord> imageText;
    private readonly ShuffledStream<int[]> textOnly;
    private readonly bool hasImageText, hasTextOnly;
    private readonly TextTokenizer tokenizer;
    private readonly SimVlmConfig config;
    private readonly ImagePreprocessor preprocessor;
    private readonly int decodeThreads;
    private readonly ConcurrentDictionary<string, int> skipped = new();
    private long recordsRead;

    private sealed record ImageTextRecord(string Key, byte[] Image, string Caption);

    /// <param name="shards">Image-text shards: files, or shards of a dataset in a folder or blob container. Each epoch
    /// shuffles this list with its seed, so the same shards in the same order give the same samples.</param>
    public ShardPrefixLmData(
        IReadOnlyList<DatasetShard> shards, IReadOnlyList<string> documentPaths, TextTokenizer tokenizer, SimVlmConfig config,
        ulong seed, int shuffleBuffer = 1000, int decodeThreads = 0)
    {
        if (shuffleBuffer < 1) throw new ArgumentOutOfRangeException(nameof(shuffleBuffer), "The shuffle buffer needs room for a sample.");
        CheckFilesExist(shards, documentPaths);
        this.tokenizer = tokenizer;
        this.config = config;
        preprocessor = new ImagePreprocessor(config.ImageSize);
        this.decodeThreads = decodeThreads > 0 ? decodeThreads : Math.Max(1, Environment.ProcessorCount - 1);
        hasImageText = shards.Count > 0;
        hasTextOnly = documentPaths.Count > 0;
        imageText = new ShuffledStream<ImageTextRecord>(
            (epochSeed, after) => ReadImageText(Shuffle(shards, epochSeed), after),
            (epochSeed, positions) => FetchImageText(Shuffle(shards, epochSeed), positions), shuffleBuffer, seed);
        textOnly = new ShuffledStream<int[]>(
            (epochSeed, after) => ReadDocumentChunks(Shuffle(documentPaths, epochSeed), after),
            (epochSeed, positions) => FetchDocumentChunks(Shuffle(documentPaths, epochSeed), positions), shuffleBuffer, seed ^ 0x632BE59BD9B4E019UL);
    }

    public bool HasImageText => hasImageText;

    public bool HasTextOnly => hasTextOnly;

    /// <summary>Records skipped so far, by reason.</summary>
    public IReadOnlyDictionary<string, int> Skipped => skipped;

    /// <summary>Shard samples and document lines read so far, whether drawn, buffered or passed over: what resuming saves.</summary>
    public long RecordsRead => Interlocked.Read(ref recordsRead);

    public IReadOnlyList<PrefixLmSample> NextImageText(int count)
    {
        var samples = new List<PrefixLmSample>(count);
        while (samples.Count < count)
        {
            var records = imageText.Take(count - samples.Count);
            var decoded = new PrefixLmSample?[records.Count];
            Parallel.For(0, records.Count, new ParallelOptions { MaxDegreeOfParallelism = decodeThreads }, i =>
            {
                var pixels = preprocessor.Preprocess(records[i].Image, out string? problem);
                if (pixels is null) Skip($"image {problem}");
                else decoded[i] = new PrefixLmSample(pixels, tokenizer.Encode(records[i].Caption, config.MaxTextLength));
            });
            samples.AddRange(decoded.OfType<PrefixLmSample>());
        }
        return samples;
    }

    public IReadOnlyList<PrefixLmSample> NextTextOnly(int count)
    {
        return textOnly.Take(count).Select(chunk => new PrefixLmSample(null, chunk)).ToList();
    }

    /// <summary>Marks the seekable cursor; a cursor without it is the older "epoch:drawn;epoch:drawn", restored by replaying.</summary>
    private const string SeekableCursorPrefix = "seek:";

    public string SaveCursor() =>
        SeekableCursorPrefix + JsonSerializer.Serialize(new DataCursor(imageText.SaveCursor(), textOnly.SaveCursor()));

    public void RestoreCursor(string cursor)
    {
        if (cursor.StartsWith(SeekableCursorPrefix, StringComparison.Ordinal))
        {
            DataCursor? saved;
            try
            {
                saved = JsonSerializer.Deserialize<DataCursor>(cursor[SeekableCursorPrefix.Length..]);
            }
            catch (JsonException e)
            {
                throw new FormatException($"'{cursor}' is not a shard data cursor: {e.Message}", e);
            }
            if (saved?.ImageText is null || saved.TextOnly is null) throw new FormatException($"'{cursor}' is not a shard data cursor.");
            imageText.Restore(saved.ImageText);
            textOnly.Restore(saved.TextOnly);
            return;
        }
        // Checkpoints from before the seekable cursor: replay the epoch's order up to the position.
        var parts = cursor.Split(';', ':');
        if (parts.Length != 4 || !parts.All(p => long.TryParse(p, out _))) throw new FormatException($"'{cursor}' is not a shard data cursor.");
        imageText.MoveTo(int.Parse(parts[0]), long.Parse(parts[1]));
        textOnly.MoveTo(int.Parse(parts[2]), long.Parse(parts[3]));
    }

    private sealed record DataCursor(StreamCursor ImageText, StreamCursor TextOnly);

    /// <summary>
    /// Every caption and document text, for building the tokenizer's vocabulary. Throws
    /// <see cref="InvalidDataException"/> when the shards hold no usable image-text sample, as training
    /// could never draw one.
    /// </summary>
    public static IEnumerable<string> ReadAllTexts(IEnumerable<DatasetShard> shardList, IEnumerable<string> documentPathList)
    {
        IReadOnlyList<DatasetShard> shards = [.. shardList];
        IReadOnlyList<string> documentPaths = [.. documentPathList];
        CheckFilesExist(shards, documentPaths);
        string? firstProblem = null;
        var reader = new RecordReader(problem => firstProblem ??= problem);
        int captions = 0;
        foreach (var record in reader.ImageText(shards))
        {
            captions++;
            yield return record.Caption;
        }
        if (captions == 0)
        {
            string named = string.Join(", ", shards.Take(3).Select(shard => shard.Location)) + (shards.Count > 3 ? $" and {shards.Count - 3} more" : "");
            throw new InvalidDataException($"No image-text samples in {(shards.Count == 0 ? "no shards" : named)}{(firstProblem is null ? "" : $" ({firstProblem})")}: " +
                "give WebDataset shards as `platform ingest run` writes them (a .jpg and a .txt caption per sample), or a dataset with committed samples.");
        }
        foreach (var text in reader.Documents(documentPaths)) yield return text;
    }

    private static void CheckFilesExist(IEnumerable<DatasetShard> shards, IEnumerable<string> documentPaths)
    {
        foreach (var path in shards.Select(shard => shard.LocalPath).OfType<string>())
            if (!File.Exists(path)) throw new FileNotFoundException($"Shard {path} does not exist: check the --data paths.", path);
        foreach (var path in documentPaths)
            if (!File.Exists(path)) throw new FileNotFoundException($"Text documents {path} do not exist: check the --text paths.", path);
    }

    private void Skip(string reason) => skipped.AddOrUpdate(reason, 1, (_, n) => n + 1);

    private void CountRead() => Interlocked.Increment(ref recordsRead);

    /// <summary>The epoch's image-text records after <paramref name="after"/> (all of them when null): shards before its shard are not opened.</summary>
    private IEnumerable<(StreamPosition, ImageTextRecord)> ReadImageText(IReadOnlyList<DatasetShard> shards, StreamPosition? after)
    {
        var reader = new RecordReader(Skip, CountRead);
        for (int part = after?.Part ?? 0; part < shards.Count; part++)
            foreach (var (index, record) in reader.ImageText(shards[part], skipThrough: part == after?.Part ? after.Record : -1))
                yield return (new StreamPosition(part, index, 0), record);
    }

    /// <summary>The image-text records at <paramref name="positions"/>, in that order: a resumed shuffle buffer's contents.</summary>
    private IReadOnlyList<ImageTextRecord> FetchImageText(IReadOnlyList<DatasetShard> shards, IReadOnlyList<StreamPosition> positions)
    {
        var reader = new RecordReader(Skip, CountRead);
        var found = new Dictionary<StreamPosition, ImageTextRecord>();
        foreach (var group in positions.GroupBy(p => p.Part))
        {
            long last = group.Max(p => p.Record);
            var wanted = group.Select(p => p.Record).ToHashSet();
            foreach (var (index, record) in reader.ImageText(shards[group.Key], skipThrough: -1, stopAfter: last))
                if (wanted.Contains(index)) found[new StreamPosition(group.Key, index, 0)] = record;
        }
        return positions.Select(p => found.TryGetValue(p, out var record) ? record
            : throw new InvalidDataException($"Shard {shards[p.Part].Location} no longer holds record {p.Record} that the checkpoint's shuffle buffer held: the data changed since.")).ToArray();
    }

    /// <summary>
    /// The documents' chunks in document order, after <paramref name="after"/>; tokenising here, before the shuffle buffer,
    /// makes each chunk one draw of the cursor. Documents before its document are not opened.
    /// </summary>
    private IEnumerable<(StreamPosition, int[])> ReadDocumentChunks(IReadOnlyList<string> paths, StreamPosition? after)
    {
        var reader = new RecordReader(Skip, CountRead);
        for (int part = after?.Part ?? 0; part < paths.Count; part++)
            foreach (var (line, text) in reader.Documents(paths[part], skipThrough: part == after?.Part ? after.Record - 1 : -1))
            {
                var chunks = Chunks(text);
                for (int chunk = part == after?.Part && line == after.Record ? after.Chunk + 1 : 0; chunk < chunks.Count; chunk++)
                    yield return (new StreamPosition(part, line, chunk), chunks[chunk]);
            }
    }

    /// <summary>The document chunks at <paramref name="positions"/>, in that order.</summary>
    private IReadOnlyList<int[]> FetchDocumentChunks(IReadOnlyList<string> paths, IReadOnlyList<StreamPosition> positions)
    {
        var reader = new RecordReader(Skip, CountRead);
        var found = new Dictionary<StreamPosition, int[]>();
        foreach (var group in positions.GroupBy(p => p.Part))
        {
            var wanted = group.ToLookup(p => p.Record);
            long last = group.Max(p => p.Record);
            foreach (var (line, text) in reader.Documents(paths[group.Key], skipThrough: -1, stopAfter: last))
                if (wanted.Contains(line))
                {
                    var chunks = Chunks(text);
                    foreach (var position in wanted[line].Where(p => p.Chunk < chunks.Count)) found[position] = chunks[position.Chunk];
                }
        }
        return positions.Select(p => found.TryGetValue(p, out var chunk) ? chunk
            : throw new InvalidDataException($"{paths[p.Part]} no longer holds the text at line {p.Record + 1} that the checkpoint's shuffle buffer held: the data changed since.")).ToArray();
    }

    /// <summary>A document's usable chunks, as training draws them; only the last can be unusable, so their numbers are those of <see cref="TextChunks"/>.</summary>
    private IReadOnlyList<int[]> Chunks(string text)
    {
        int[] ids = tokenizer.Encode(text);
        if (ids.Length < 2)
        {
            Skip("document shorter than two tokens");
            return [];
        }
        return TextChunks(ids, config.MaxTextLength).Where((chunk, i) =>
        {
            if (chunk.Length >= 2) return true;
            Skip("document's last chunk holds only end-of-text");
            return false;
        }).ToArray();
    }

    /// <summary>
    /// A tokenised document (end-of-text last) cut into consecutive chunks of <paramref name="length"/> tokens, the
    /// last one shorter: ceil(tokens / length) chunks that together hold every token once, in order. Only the
    /// last chunk ends with end-of-text; the others continue into the next, as a window of a longer text does.
    /// </summary>
    public static IReadOnlyList<int[]> TextChunks(int[] tokens, int length)
    {
        if (length < 1) throw new ArgumentOutOfRangeException(nameof(length), "A chunk needs room for a token.");
        var chunks = new List<int[]>((tokens.Length + length - 1) / length);
        for (int start = 0; start < tokens.Length; start += length)
            chunks.Add(tokens[start..Math.Min(tokens.Length, start + length)]);
        return chunks;
    }

    private static IReadOnlyList<T> Shuffle<T>(IReadOnlyList<T> items, ulong seed)
    {
        var random = new DeterministicRandom(seed);
        var order = items.ToArray();
        for (int i = order.Length - 1; i > 0; i--)
        {
            int j = random.Next(0, i + 1);
            (order[i], order[j]) = (order[j], order[i]);
        }
        return order;
    }

    /// <summary>
    /// Reads raw records; decoding waits until a record is drawn. A record's number counts every sample of its shard (every
    /// line of its document file), usable or not, so that it names the same record whenever the shard is read.
    /// </summary>
    private sealed class RecordReader(Action<string>? skip = null, Action? read = null)
    {
        private static readonly string[] ImageExtensions = ["jpg", "jpeg", "png", "webp"];

        public IEnumerable<ImageTextRecord> ImageText(IEnumerable<DatasetShard> shards) =>
            shards.SelectMany(shard => ImageText(shard, skipThrough: -1).Select(numbered => numbered.Record));

        /// <param name="skipThrough">Samples up to this number are passed over unexamined.</param>
        /// <param name="stopAfter">Reading stops after this sample.</param>
        public IEnumerable<(long Number, ImageTextRecord Record)> ImageText(DatasetShard shard, long skipThrough, long stopAfter = long.MaxValue)
        {
            long number = -1;
            foreach (var sample in WebDatasetShardReader.Read(shard, problem => skip?.Invoke($"shard: {problem.Reason}")))
            {
                if (++number > stopAfter) yield break;
                read?.Invoke();
                if (number <= skipThrough) continue;
                var image = ImageExtensions.Select(e => sample.Files.GetValueOrDefault(e)).FirstOrDefault(b => b is not null);
                if (image is null) { skip?.Invoke("sample without an image"); continue; }
                if (!sample.Files.TryGetValue("txt", out var caption)) { skip?.Invoke("sample without a caption"); continue; }
                string text = System.Text.Encoding.UTF8.GetString(caption).Trim();
                if (text.Length == 0) { skip?.Invoke("empty caption"); continue; }
                yield return (number, new ImageTextRecord(sample.Key, image, text));
            }
        }

        public IEnumerable<string> Documents(IEnumerable<string> paths) =>
            paths.SelectMany(path => Documents(path, skipThrough: -1).Select(numbered => numbered.Text));

        /// <param name="skipThrough">Lines up to this number are passed over unparsed.</param>
        /// <param name="stopAfter">Reading stops after this line.</param>
        public IEnumerable<(long Line, string Text)> Documents(string path, long skipThrough, long stopAfter = long.MaxValue)
        {
            long number = -1;
            foreach (var line in File.ReadLines(path))
            {
                if (++number > stopAfter) yield break;
                read?.Invoke();
                if (number <= skipThrough || string.IsNullOrWhiteSpace(line)) continue;
                string? text = null;
                try
                {
                    using var json = JsonDocument.Parse(line);
                    if (json.RootElement.ValueKind == JsonValueKind.Object && json.RootElement.TryGetProperty("text", out var value) && value.ValueKind == JsonValueKind.String)
                        text = value.GetString();
                }
                catch (JsonException)
                {
                    // counted below
                }
                if (string.IsNullOrWhiteSpace(text)) { skip?.Invoke("document line without a \"text\" string"); continue; }
                yield return (number, text);
            }
        }
    }
}

/// <summary>Where a record came from in its epoch: the shard (or document file) in the epoch's order, the record's number in it, and the chunk of a document.</summary>
internal sealed record StreamPosition(int Part, long Record, int Chunk);

/// <summary>
/// A <see cref="ShuffledStream{T}"/>'s position, enough to restore it without reading what was drawn before: the epoch, the
/// draws, the shuffle's generator, the last record read from the source (null: none yet), whether the source was used up,
/// and where each buffered record came from, in buffer order.
/// </summary>
internal sealed record StreamCursor(int Epoch, long Drawn, ulong RandomState, StreamPosition? LastRead, bool SourceDone, IReadOnlyList<StreamPosition> Buffer);

/// <summary>
/// A seeded, endlessly repeating stream through a shuffle buffer, as WebDataset's shuffle: items
/// enter a buffer of fixed size and leave from a random slot. The position is (epoch, drawn); the
/// source names where each item came from, so that <see cref="SaveCursor"/> can say where reading
/// stopped and what the buffer holds, and <see cref="Restore"/> can read on from there.
/// </summary>
/// <param name="epochSource">An epoch's items from its seed, after the given position (from the start when null).</param>
/// <param name="fetch">An epoch's items at the given positions, in their order.</param>
internal sealed class ShuffledStream<T>(
    Func<ulong, StreamPosition?, IEnumerable<(StreamPosition Position, T Item)>> epochSource,
    Func<ulong, IReadOnlyList<StreamPosition>, IReadOnlyList<T>> fetch,
    int bufferSize, ulong seed)
{
    private IEnumerator<(StreamPosition Position, T Item)>? source;
    private List<(StreamPosition Position, T Item)> buffer = [];
    private StreamPosition? lastRead;
    private DeterministicRandom random = new(seed);

    public int Epoch { get; private set; } = -1;
    public long Drawn { get; private set; }

    public IReadOnlyList<T> Take(int count)
    {
        var taken = new List<T>(count);
        while (taken.Count < count)
        {
            if (Epoch < 0) StartEpoch(0);
            while (source is not null && buffer.Count < bufferSize)
            {
                if (source.MoveNext())
                {
                    buffer.Add(source.Current);
                    lastRead = source.Current.Position;
                }
                else { source.Dispose(); source = null; }
            }
            if (buffer.Count == 0)
            {
                if (Drawn == 0) throw new InvalidOperationException("The data yielded no usable samples in a whole epoch.");
                StartEpoch(Epoch + 1);
                continue;
            }
            int slot = random.Next(0, buffer.Count);
            taken.Add(buffer[slot].Item);
            buffer[slot] = buffer[^1];
            buffer.RemoveAt(buffer.Count - 1);
            Drawn++;
            if (source is null && buffer.Count == 0) StartEpoch(Epoch + 1);
        }
        return taken;
    }

    public StreamCursor SaveCursor() =>
        new(Epoch, Drawn, random.State, lastRead, Epoch >= 0 && source is null, buffer.Select(entry => entry.Position).ToArray());

    /// <summary>Continues from a saved cursor: reading resumes after its last record, and only the buffered records are read back.</summary>
    public void Restore(StreamCursor cursor)
    {
        source?.Dispose();
        source = null;
        if (cursor.Epoch < 0) { Epoch = -1; Drawn = 0; buffer = []; lastRead = null; random = new(seed); return; }
        ulong epochSeed = EpochSeed(cursor.Epoch);
        var items = fetch(epochSeed, cursor.Buffer);
        buffer = cursor.Buffer.Zip(items).ToList();
        lastRead = cursor.LastRead;
        if (!cursor.SourceDone) source = epochSource(epochSeed, lastRead).GetEnumerator();
        random = new DeterministicRandom(cursor.RandomState);
        Epoch = cursor.Epoch;
        Drawn = cursor.Drawn;
    }

    /// <summary>Replays the seeded order up to a saved position: how cursors without positions are restored.</summary>
    public void MoveTo(int epoch, long drawn)
    {
        source?.Dispose();
        source = null;
        if (epoch < 0) { Epoch = -1; Drawn = 0; buffer = []; lastRead = null; random = new(seed); return; }
        StartEpoch(epoch);
        for (long i = 0; i < drawn; i++) Take(1);
    }

    private ulong EpochSeed(int epoch) => seed + (ulong)(epoch + 1) * 0x9E3779B97F4A7C15UL;

    private void StartEpoch(int epoch)
    {
        source?.Dispose();
        ulong epochSeed = EpochSeed(epoch);
        source = epochSource(epochSeed, null).GetEnumerator();
        buffer = [];
        lastRead = null;
        random = new DeterministicRandom(epochSeed ^ 0xD1B54A32D192ED03UL);
        Epoch = epoch;
        Drawn = 0;
    }
}
