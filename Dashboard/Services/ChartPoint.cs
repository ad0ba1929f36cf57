namespace Platform.Dashboard.Services;

/// <summary>One point of a chart series (the chart library binds series to properties).</summary>
public sealed record ChartPoint(double X, double Y);
