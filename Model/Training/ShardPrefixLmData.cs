using System.Collections.Concurrent;
using System.Text.Json;
using Platform.Datasets;

namespace Platform.Model.Training;

/// <summary>
/// Streams training samples from WebDataset shards ({key}.jpg + {key}.txt) and text-only documents
/// (JSON lines with a "text" field). Each epoch visits the shards in a seeded order through a
/// shuffle buffer; images are decoded in parallel only when drawn. The cursor is (epoch, samples
/// drawn) per stream: restoring replays the epoch's seeded order without decoding, so a resumed
/// run sees exactly the samples the original would have. Unusable records are counted by reason
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
        imageText = new ShuffledStream<ImageTextRecord>(epochSeed => ReadImageText(Shuffle(shards, epochSeed)), shuffleBuffer, seed);
        textOnly = new ShuffledStream<int[]>(epochSeed => ReadDocumentChunks(Shuffle(documentPaths, epochSeed)), shuffleBuffer, seed ^ 0x632BE59BD9B4E019UL);
    }

    public bool HasImageText => hasImageText;

    public bool HasTextOnly => hasTextOnly;

    /// <summary>Records skipped so far, by reason.</summary>
    public IReadOnlyDictionary<string, int> Skipped => skipped;

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

    public string SaveCursor() => $"{imageText.Epoch}:{imageText.Drawn};{textOnly.Epoch}:{textOnly.Drawn}";

    public void RestoreCursor(string cursor)
    {
        var parts = cursor.Split(';', ':');
        if (parts.Length != 4 || !parts.All(p => long.TryParse(p, out _))) throw new FormatException($"'{cursor}' is not a shard data cursor.");
        imageText.MoveTo(int.Parse(parts[0]), long.Parse(parts[1]));
        textOnly.MoveTo(int.Parse(parts[2]), long.Parse(parts[3]));
    }

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

    private IEnumerable<ImageTextRecord> ReadImageText(IEnumerable<DatasetShard> shards) => new RecordReader(Skip).ImageText(shards);

    /// <summary>The documents' chunks in document order; tokenising here, before the shuffle buffer, makes each chunk one draw of the cursor.</summary>
    private IEnumerable<int[]> ReadDocumentChunks(IEnumerable<string> paths)
    {
        foreach (string text in new RecordReader(Skip).Documents(paths))
        {
            int[] ids = tokenizer.Encode(text);
            if (ids.Length < 2)
            {
                Skip("document shorter than two tokens");
                continue;
            }
            foreach (var chunk in TextChunks(ids, config.MaxTextLength))
                if (chunk.Length < 2) Skip("document's last chunk holds only end-of-text");
                else yield return chunk;
        }
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

    /// <summary>Reads raw records; decoding waits until a record is drawn.</summary>
    private sealed class RecordReader(Action<string>? skip = null)
    {
        private static readonly string[] ImageExtensions = ["jpg", "jpeg", "png", "webp"];

        public IEnumerable<ImageTextRecord> ImageText(IEnumerable<DatasetShard> shards)
        {
            foreach (var shard in shards)
                foreach (var sample in WebDatasetShardReader.Read(shard, problem => skip?.Invoke($"shard: {problem.Reason}")))
                {
                    var image = ImageExtensions.Select(e => sample.Files.GetValueOrDefault(e)).FirstOrDefault(b => b is not null);
                    if (image is null) { skip?.Invoke("sample without an image"); continue; }
                    if (!sample.Files.TryGetValue("txt", out var caption)) { skip?.Invoke("sample without a caption"); continue; }
                    string text = System.Text.Encoding.UTF8.GetString(caption).Trim();
                    if (text.Length == 0) { skip?.Invoke("empty caption"); continue; }
                    yield return new ImageTextRecord(sample.Key, image, text);
                }
        }

        public IEnumerable<string> Documents(IEnumerable<string> paths)
        {
            foreach (var path in paths)
                foreach (var line in File.ReadLines(path))
                {
                    if (string.IsNullOrWhiteSpace(line)) continue;
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
                    yield return text;
                }
        }
    }
}

/// <summary>
/// A seeded, endlessly repeating stream through a shuffle buffer, as WebDataset's shuffle: items
/// enter a buffer of fixed size and leave from a random slot. The position is (epoch, drawn).
/// </summary>
internal sealed class ShuffledStream<T>(Func<ulong, IEnumerable<T>> epochSource, int bufferSize, ulong seed)
{
    private IEnumerator<T>? source;
    private List<T> buffer = [];
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
                if (source.MoveNext()) buffer.Add(source.Current);
                else { source.Dispose(); source = null; }
            }
            if (buffer.Count == 0)
            {
                if (Drawn == 0) throw new InvalidOperationException("The data yielded no usable samples in a whole epoch.");
                StartEpoch(Epoch + 1);
                continue;
            }
            int slot = random.Next(0, buffer.Count);
            taken.Add(buffer[slot]);
            buffer[slot] = buffer[^1];
            buffer.RemoveAt(buffer.Count - 1);
            Drawn++;
            if (source is null && buffer.Count == 0) StartEpoch(Epoch + 1);
        }
        return taken;
    }

    /// <summary>Replays the seeded order up to a saved position.</summary>
    public void MoveTo(int epoch, long drawn)
    {
        source?.Dispose();
        source = null;
        if (epoch < 0) { Epoch = -1; Drawn = 0; buffer = []; random = new(seed); return; }
        StartEpoch(epoch);
        for (long i = 0; i < drawn; i++) Take(1);
    }

    private void StartEpoch(int epoch)
    {
        source?.Dispose();
        ulong epochSeed = seed + (ulong)(epoch + 1) * 0x9E3779B97F4A7C15UL;
        source = epochSource(epochSeed).GetEnumerator();
        buffer = [];
        random = new DeterministicRandom(epochSeed ^ 0xD1B54A32D192ED03UL);
        Epoch = epoch;
        Drawn = 0;
    }
}
