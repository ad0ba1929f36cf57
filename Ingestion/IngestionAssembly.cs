namespace Platform.Ingestion;

/// <summary>Marker for the ingestion library: readers, extraction, filters, images, dedupe, shards.</summary>
public static class IngestionAssembly;
