namespace Platform.Dashboard.Services;

/// <summary>One bar of a bar chart: a labelled count.</summary>
public sealed record ChartBar(string Label, double Value);
