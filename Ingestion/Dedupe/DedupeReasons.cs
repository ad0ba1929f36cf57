namespace Platform.Ingestion.Dedupe;

/// <summary>Reason codes for dropped duplicates, as they appear in stats and parquet.</summary>
public static class DedupeReasons
{
    public const string DuplicateUrl = "duplicate_url";
    public const string DuplicateImageBytes = "duplicate_image_bytes";
    public const string NearDuplicateImage = "near_duplicate_image";
    public const string EvaluationNearDuplicate = "evaluation_near_duplicate";
    public const string NearDuplicateText = "near_duplicate_text";
    public const string BoilerplateCaption = "boilerplate_caption";
}
