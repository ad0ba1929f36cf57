namespace Platform.Model.Evaluation.Datasets;

/// <summary>
/// Where an evaluation data folder keeps each task's files (the benchmark generator writes this
/// layout; real COCO / VQAv2 files can be placed or linked under the same names):
/// images/{split}/..., annotations/captions_{split}.json (COCO captions),
/// annotations/vqa_questions_{split}.json + annotations/vqa_annotations_{split}.json (VQAv2),
/// annotations/karpathy_splits.json (Karpathy-style split file over all images; Karpathy's
/// dataset_coco.json can be placed there, and captioning falls back to it when a split has no
/// captions file).
/// The readers also take the field's files under the names they are downloaded with, in the folder
/// itself or in annotations/ (see the *Candidates lists), so nobody has to rename them.
/// </summary>
public static class EvaluationDataLayout
{
    public static readonly string[] Splits = ["train", "val", "test"];

    public static string ImagesFolder(string root, string split) => Path.Combine(root, "images", split);
    public static string CaptionsFile(string root, string split) => Path.Combine(root, "annotations", $"captions_{split}.json");
    public static string VqaQuestionsFile(string root, string split) => Path.Combine(root, "annotations", $"vqa_questions_{split}.json");
    public static string VqaAnnotationsFile(string root, string split) => Path.Combine(root, "annotations", $"vqa_annotations_{split}.json");
    public static string KarpathySplitsFile(string root) => Path.Combine(root, "annotations", "karpathy_splits.json");

    /// <summary>Our name, then COCO's download (annotations/captions_val2014.json unpacks to the same name, or sits in the folder itself).</summary>
    public static IReadOnlyList<string> CaptionsFileCandidates(string root, string split) =>
        [CaptionsFile(root, split), Path.Combine(root, $"captions_{split}.json")];

    /// <summary>Our name, then Karpathy's downloads (dataset_coco.json, dataset_flickr30k.json) in annotations/ or the folder itself.</summary>
    public static IReadOnlyList<string> KarpathySplitsFileCandidates(string root) =>
    [
        KarpathySplitsFile(root),
        .. new[] { "dataset_coco.json", "dataset_flickr30k.json" }.SelectMany(name => new[] { Path.Combine(root, "annotations", name), Path.Combine(root, name) }),
    ];

    /// <summary>Our name, then VQAv2's download name (v2_OpenEnded_mscoco_{split}_questions.json) in annotations/ or the folder itself.</summary>
    public static IReadOnlyList<string> VqaQuestionsFileCandidates(string root, string split) =>
        [VqaQuestionsFile(root, split), .. InAnnotationsOrRoot(root, $"v2_OpenEnded_mscoco_{split}_questions.json")];

    /// <summary>Our name, then VQAv2's download name (v2_mscoco_{split}_annotations.json) in annotations/ or the folder itself.</summary>
    public static IReadOnlyList<string> VqaAnnotationsFileCandidates(string root, string split) =>
        [VqaAnnotationsFile(root, split), .. InAnnotationsOrRoot(root, $"v2_mscoco_{split}_annotations.json")];

    /// <summary>images/{split}/, then COCO's layout of one folder per split (val2014/COCO_val2014_....jpg).</summary>
    public static IReadOnlyList<string> ImagesFolderCandidates(string root, string split) => [ImagesFolder(root, split), Path.Combine(root, split)];

    /// <summary>SNLI-VE's snli_ve_{split}.jsonl in annotations/, the folder itself or data/ (the SNLI-VE repository's layout).</summary>
    public static IReadOnlyList<string> SnliVeFileCandidates(string root, string split) =>
        [.. InAnnotationsOrRoot(root, $"snli_ve_{split}.jsonl"), Path.Combine(root, "data", $"snli_ve_{split}.jsonl")];

    /// <summary>NLVR2's {split}.json (JSON lines) in annotations/, the folder itself or data/ (the NLVR repository's nlvr2/data/).</summary>
    public static IReadOnlyList<string> Nlvr2FileCandidates(string root, string split) =>
        [.. InAnnotationsOrRoot(root, $"{split}.json"), Path.Combine(root, "data", $"{split}.json")];

    /// <summary>NoCaps captions (COCO captions format with a domain per image): our name, then the download's (nocaps_val_4500_captions.json).</summary>
    public static IReadOnlyList<string> NoCapsFileCandidates(string root, string split) =>
        [.. InAnnotationsOrRoot(root, $"nocaps_{split}.json"), .. InAnnotationsOrRoot(root, $"nocaps_{split}_4500_captions.json")];

    /// <summary>Where the offline benchmark keeps NLVR2's image pairs, apart from the split's own images.</summary>
    public static string Nlvr2ImagesFolder(string root, string split) => Path.Combine(root, "nlvr2", split);

    /// <summary>Where NLVR2's images may be: the split's folders (NLVR2's download unpacks to {split}/), then the offline benchmark's nlvr2/{split}/.</summary>
    public static IReadOnlyList<string> Nlvr2ImageFolderCandidates(string root, string split) => [.. ImagesFolderCandidates(root, split), Nlvr2ImagesFolder(root, split)];

    /// <summary>Where SNLI-VE's Flickr30k images may be: the split's folders, then Flickr30k's own flickr30k-images/.</summary>
    public static IReadOnlyList<string> Flickr30kImageFolderCandidates(string root, string split) =>
        [.. ImagesFolderCandidates(root, split), Path.Combine(root, "flickr30k-images"), Path.Combine(root, "images")];

    /// <summary>The first of the candidates that exists, or a FileNotFoundException naming them all.</summary>
    public static string FindFile(string what, string root, IReadOnlyList<string> candidates) =>
        FirstExisting(candidates) ?? throw NotFound(what, root, candidates);

    /// <summary>The first candidate that exists, or null.</summary>
    public static string? FirstExisting(IEnumerable<string> candidates) => candidates.FirstOrDefault(File.Exists);

    /// <summary>The split's VQA questions and annotations files, whichever names they have; annotations null when absent (test splits).</summary>
    public static (string Questions, string? Annotations) FindVqaFiles(string root, string split)
    {
        var questions = VqaQuestionsFileCandidates(root, split);
        var found = FirstExisting(questions) ?? throw NotFound($"No VQA questions for split '{split}'", root, questions);
        return (found, FirstExisting(VqaAnnotationsFileCandidates(root, split)));
    }

    /// <summary>The split's VQA annotations file, whichever name it has.</summary>
    public static string FindVqaAnnotationsFile(string root, string split)
    {
        var candidates = VqaAnnotationsFileCandidates(root, split);
        return FirstExisting(candidates) ?? throw NotFound($"No VQA annotations for split '{split}'", root, candidates);
    }

    /// <summary>The folder the split's images are in (images/{split} when none exists, so the message names it).</summary>
    public static string FindImagesFolder(string root, string split) =>
        ImagesFolderCandidates(root, split).FirstOrDefault(Directory.Exists) ?? ImagesFolder(root, split);

    /// <summary>One line naming every file looked for, relative to the data folder.</summary>
    public static FileNotFoundException NotFound(string what, string root, IReadOnlyList<string> candidates) =>
        new($"{what} in {root}: looked for {string.Join(", ", candidates.Select(c => Path.GetRelativePath(root, c)))}.", candidates[0]);

    static IEnumerable<string> InAnnotationsOrRoot(string root, string name) => [Path.Combine(root, "annotations", name), Path.Combine(root, name)];
}
