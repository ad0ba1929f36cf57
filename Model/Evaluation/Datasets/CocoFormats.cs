using System.Text.Json.Serialization;

namespace Platform.Model.Evaluation.Datasets;

// The JSON shapes of the public COCO, Karpathy-split and VQAv2 files, field names as published.
// Properties are nullable so that a record missing a field is reported and skipped, not defaulted.

public sealed class CocoCaptionFile
{
    [JsonPropertyName("info")] public CocoInfo? Info { get; set; }
    [JsonPropertyName("images")] public List<CocoImageRecord>? Images { get; set; }
    [JsonPropertyName("annotations")] public List<CocoCaptionRecord>? Annotations { get; set; }
}

public sealed class CocoInfo
{
    [JsonPropertyName("description")] public string? Description { get; set; }
    [JsonPropertyName("version")] public string? Version { get; set; }
    [JsonPropertyName("year")] public int? Year { get; set; }
}

public sealed class CocoImageRecord
{
    [JsonPropertyName("id")] public long? Id { get; set; }
    [JsonPropertyName("file_name")] public string? FileName { get; set; }
    [JsonPropertyName("width")] public int? Width { get; set; }
    [JsonPropertyName("height")] public int? Height { get; set; }

    /// <summary>NoCaps only: "in-domain", "near-domain" or "out-domain" (absent in COCO files).</summary>
    [JsonPropertyName("domain")] public string? Domain { get; set; }
}

public sealed class CocoCaptionRecord
{
    [JsonPropertyName("image_id")] public long? ImageId { get; set; }
    [JsonPropertyName("id")] public long? Id { get; set; }
    [JsonPropertyName("caption")] public string? Caption { get; set; }
}

/// <summary>Karpathy's split file (dataset_coco.json / dataset_flickr30k.json).</summary>
public sealed class KarpathySplitFile
{
    [JsonPropertyName("images")] public List<KarpathyImageRecord>? Images { get; set; }
    [JsonPropertyName("dataset")] public string? Dataset { get; set; }
}

public sealed class KarpathyImageRecord
{
    [JsonPropertyName("filepath")] public string? FilePath { get; set; }
    [JsonPropertyName("filename")] public string? FileName { get; set; }
    [JsonPropertyName("imgid")] public long? ImgId { get; set; }
    [JsonPropertyName("cocoid")] public long? CocoId { get; set; }
    [JsonPropertyName("split")] public string? Split { get; set; }
    [JsonPropertyName("sentids")] public List<long>? SentIds { get; set; }
    [JsonPropertyName("sentences")] public List<KarpathySentenceRecord>? Sentences { get; set; }
}

public sealed class KarpathySentenceRecord
{
    [JsonPropertyName("tokens")] public List<string>? Tokens { get; set; }
    [JsonPropertyName("raw")] public string? Raw { get; set; }
    [JsonPropertyName("imgid")] public long? ImgId { get; set; }
    [JsonPropertyName("sentid")] public long? SentId { get; set; }
}

public sealed class VqaQuestionFile
{
    [JsonPropertyName("info")] public CocoInfo? Info { get; set; }
    [JsonPropertyName("task_type")] public string? TaskType { get; set; }
    [JsonPropertyName("data_type")] public string? DataType { get; set; }
    [JsonPropertyName("data_subtype")] public string? DataSubtype { get; set; }
    [JsonPropertyName("questions")] public List<VqaQuestionRecord>? Questions { get; set; }
}

public sealed class VqaQuestionRecord
{
    [JsonPropertyName("image_id")] public long? ImageId { get; set; }
    [JsonPropertyName("question")] public string? Question { get; set; }
    [JsonPropertyName("question_id")] public long? QuestionId { get; set; }
}

public sealed class VqaAnnotationFile
{
    [JsonPropertyName("info")] public CocoInfo? Info { get; set; }
    [JsonPropertyName("data_type")] public string? DataType { get; set; }
    [JsonPropertyName("data_subtype")] public string? DataSubtype { get; set; }
    [JsonPropertyName("annotations")] public List<VqaAnnotationRecord>? Annotations { get; set; }
}

public sealed class VqaAnnotationRecord
{
    [JsonPropertyName("question_type")] public string? QuestionType { get; set; }
    [JsonPropertyName("multiple_choice_answer")] public string? MultipleChoiceAnswer { get; set; }
    [JsonPropertyName("answers")] public List<VqaAnswerRecord>? Answers { get; set; }
    [JsonPropertyName("image_id")] public long? ImageId { get; set; }
    [JsonPropertyName("answer_type")] public string? AnswerType { get; set; }
    [JsonPropertyName("question_id")] public long? QuestionId { get; set; }
}

public sealed class VqaAnswerRecord
{
    [JsonPropertyName("answer")] public string? Answer { get; set; }
    [JsonPropertyName("answer_confidence")] public string? AnswerConfidence { get; set; }
    [JsonPropertyName("answer_id")] public int? AnswerId { get; set; }
}

/// <summary>A captioning results entry as submitted to the COCO server.</summary>
public sealed class CaptionResultRecord
{
    [JsonPropertyName("image_id")] public long? ImageId { get; set; }
    [JsonPropertyName("caption")] public string? Caption { get; set; }
}

/// <summary>A VQA results entry as submitted to the VQA server.</summary>
public sealed class VqaResultRecord
{
    [JsonPropertyName("question_id")] public long? QuestionId { get; set; }
    [JsonPropertyName("answer")] public string? Answer { get; set; }
}

/// <summary>One line of SNLI-VE's snli_ve_{split}.jsonl (the SNLI record with the premise's Flickr30k image).</summary>
public sealed class SnliVeRecord
{
    [JsonPropertyName("Flickr30K_ID")] public string? Flickr30kId { get; set; }
    [JsonPropertyName("pairID")] public string? PairId { get; set; }
    [JsonPropertyName("sentence1")] public string? Premise { get; set; }
    [JsonPropertyName("sentence2")] public string? Hypothesis { get; set; }
    [JsonPropertyName("gold_label")] public string? GoldLabel { get; set; }
}

/// <summary>One line of NLVR2's {split}.json: a statement about a pair of images and whether it holds.</summary>
public sealed class Nlvr2Record
{
    [JsonPropertyName("identifier")] public string? Identifier { get; set; }
    [JsonPropertyName("sentence")] public string? Sentence { get; set; }
    [JsonPropertyName("label")] public string? Label { get; set; }
    [JsonPropertyName("directory")] public int? Directory { get; set; }
    [JsonPropertyName("left_url")] public string? LeftUrl { get; set; }
    [JsonPropertyName("right_url")] public string? RightUrl { get; set; }
}

/// <summary>A labelled entry of an SNLI-VE or NLVR2 results file: the example's id and the predicted label.</summary>
public sealed class LabelResultRecord
{
    [JsonPropertyName("id")] public string? Id { get; set; }
    [JsonPropertyName("prediction")] public string? Prediction { get; set; }
}
