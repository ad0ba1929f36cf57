namespace Platform.Model.Evaluation.Datasets;

/// <summary>
/// Where an evaluation data folder keeps each task's files (the benchmark generator writes this
/// layout; real COCO / VQAv2 files can be placed or linked under the same names):
/// images/{split}/..., annotations/captions_{split}.json (COCO captions),
/// annotations/vqa_questions_{split}.json + annotations/vqa_annotations_{split}.json (VQAv2),
/// annotations/karpathy_splits.json (Karpathy-style split file over all images; Karpathy's
/// dataset_coco.json can be placed there, and captioning falls back to it when a split has no
/// captions file).
/// </summary>
public static class EvaluationDataLayout
{
    public static readonly string[] Splits = ["train", "val", "test"];

    public static string ImagesFolder(string root, string split) => Path.Combine(root, "images", split);
    public static string CaptionsFile(string root, string split) => Path.Combine(root, "annotations", $"captions_{split}.json");
    public static string VqaQuestionsFile(string root, string split) => Path.Combine(root, "annotations", $"vqa_questions_{split}.json");
    public static string VqaAnnotationsFile(string root, string split) => Path.Combine(root, "annotations", $"vqa_annotations_{split}.json");
    public static string KarpathySplitsFile(string root) => Path.Combine(root, "annotations", "karpathy_splits.json");
}
