namespace Platform.Model;

/// <summary>Marker for the model library: SimVLM, PrefixLM training, decoding, metrics.</summary>
public static class ModelAssembly;
