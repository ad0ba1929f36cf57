using System.Globalization;

namespace Platform.Ingestion.Stages;

/// <summary>
/// Every file and folder of one ingestion job's work directory, for both executors: `ingest run` keeps its extraction
/// outputs and spools there, a cluster job also its unit attempts (<c>.units</c>), shard attempts (<c>.shards</c>) and,
/// by default, its dataset. Nothing else builds these paths, so the stages and the grains that drive them agree on them.
/// </summary>
public sealed record IngestJobLayout(string Root)
{
    public const string CandidatesFile = "candidates.jsonl";
    public const string RejectedFile = "rejected.jsonl";
    public const string TextFile = "text.jsonl";
    public const string ImagesFile = "images.jsonl";
    public const string StatsFile = "stats.json";
    /// <summary>Folder of the dataset under the work directory when the job names no other location.</summary>
    public const string DatasetFolder = "dataset";

    /// <summary>What the extraction of a job leaves in its work directory, as `ingest extract` leaves it in its output.</summary>
    public static readonly IReadOnlyList<string> ExtractionOutputs = [CandidatesFile, RejectedFile, TextFile, ImagesFile, StatsFile];

    public static string DefaultDatasetLocation(string root) => Path.Combine(root, DatasetFolder);

    public string Candidates => Path.Combine(Root, CandidatesFile);
    public string Rejected => Path.Combine(Root, RejectedFile);
    public string Text => Path.Combine(Root, TextFile);
    public string Images => Path.Combine(Root, ImagesFile);
    public string Stats => Path.Combine(Root, StatsFile);

    /// <summary>In one process: the pairs that passed the per-pair filters, waiting for the frequency stage.</summary>
    public string Spool => Path.Combine(Root, "spool.jsonl");

    /// <summary>In one process: the accepted images of whole-file gzip inputs, copied out in one pass per input.</summary>
    public string SequentialImages => Path.Combine(Root, "sequential-images.bin");

    public string UnitsDirectory => Path.Combine(Root, ".units");

    /// <summary>A unit attempt's own folder, so a stale worker of a lost attempt never mixes its files with the redo.</summary>
    public UnitFolder Unit(int unit, int attempt) => new(Path.Combine(UnitsDirectory, Numbered(unit, attempt)));

    /// <summary>Where a finishing attempt writes the extraction outputs before moving them into <see cref="Root"/>.</summary>
    public string FinishDirectory(int attempt) => Path.Combine(Root, $".finish-{attempt}");

    public string ShardsDirectory => Path.Combine(Root, ".shards");

    public string FetchDirectory(int shard, int attempt) => Path.Combine(ShardsDirectory, "fetch", Numbered(shard, attempt));

    public string VerdictsDirectory(int dedupeAttempt) => Path.Combine(ShardsDirectory, $"verdicts-{dedupeAttempt}");

    /// <summary>One line per sample of the shard: its dedupe reason, or empty.</summary>
    public string VerdictsFile(int dedupeAttempt, int shard) => Path.Combine(VerdictsDirectory(dedupeAttempt), $"{shard:D5}.txt");

    /// <summary>Positions of kept pairs whose URL an earlier pair has, one per line.</summary>
    public string UrlDuplicates => Path.Combine(ShardsDirectory, "url-duplicates.txt");

    private static string Numbered(int index, int attempt) => string.Create(CultureInfo.InvariantCulture, $"{index:D5}.{attempt}");
}

/// <summary>The files one work unit's extraction leaves in its folder.</summary>
public sealed record UnitFolder(string Path)
{
    /// <summary>The pairs that passed the per-pair filters, waiting for the job-wide count and frequency stages.</summary>
    public string Spool => Combine("spool.jsonl");
    public string Rejected => Combine(IngestJobLayout.RejectedFile);
    public string Text => Combine(IngestJobLayout.TextFile);
    public string Images => Combine(IngestJobLayout.ImagesFile);
    public string Stats => Combine(IngestJobLayout.StatsFile);
    /// <summary>Every span dedupe call of the unit, in call order (<see cref="Platform.Ingestion.Text.RecordingSpanDeduplicator"/>).</summary>
    public string Spans => Combine("spans.bin");
    /// <summary>Per line of the unit's text: the document's first span call and how many it made ("first count").</summary>
    public string TextSpans => Combine("text-spans.txt");

    private string Combine(string name) => System.IO.Path.Combine(Path, name);
}

/// <summary>The files of one shard's fetch attempt (<see cref="FetchShardStage"/>).</summary>
public sealed record FetchFolder(string Path)
{
    /// <summary>One line per sample as attempted (<see cref="AttemptedSample"/>).</summary>
    public string Samples => System.IO.Path.Combine(Path, "samples.jsonl");
    /// <summary>The accepted images' JPEGs, one after another.</summary>
    public string Images => System.IO.Path.Combine(Path, "images.bin");
}
