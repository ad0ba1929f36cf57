using SkiaSharp;

namespace Platform.Model.Evaluation.Benchmark;

/// <summary>One object of a scene: what it is and which cell of the 3x3 grid it occupies.</summary>
public sealed record SceneObject(ShapeKind Shape, ColourWord Colour, SizeWord Size, int Column, int Row, double JitterX, double JitterY)
{
    public string ShapeWord => Shape.ToString().ToLowerInvariant();

    public string HorizontalWord => Column switch { 0 => "left", 1 => "center", _ => "right" };

    public string VerticalWord => Row switch { 0 => "top", 1 => "middle", _ => "bottom" };

    /// <summary>"top left", "center", "bottom right", ...</summary>
    public string PlaceWords => (Row, Column) switch
    {
        (1, 1) => "center",
        (1, _) => $"middle {HorizontalWord}",
        (_, 1) => $"{VerticalWord} center",
        _ => $"{VerticalWord} {HorizontalWord}",
    };

    /// <summary>Centre of the object in pixels for an image of the given side.</summary>
    public (float X, float Y) Centre(int imageSize)
    {
        var cell = imageSize / 3f;
        return ((float)((Column + 0.5 + JitterX) * cell), (float)((Row + 0.5 + JitterY) * cell));
    }

    public float Radius(int imageSize) => (float)(imageSize / 6.0 * Size.RadiusFraction * 0.9);
}

/// <summary>A rendered-scene description; the captions and answers are derived from it.</summary>
public sealed record Scene(IReadOnlyList<SceneObject> Objects)
{
    /// <summary>Draws the scene on a white background and encodes it as PNG.</summary>
    public byte[] RenderPng(int imageSize)
    {
        using var surface = SKSurface.Create(new SKImageInfo(imageSize, imageSize, SKColorType.Rgba8888, SKAlphaType.Premul))
            ?? throw new InvalidOperationException($"SkiaSharp could not create a {imageSize}x{imageSize} surface.");
        var canvas = surface.Canvas;
        canvas.Clear(SKColors.White);
        using var paint = new SKPaint { IsAntialias = true, Style = SKPaintStyle.Fill };
        foreach (var item in Objects)
        {
            paint.Color = new SKColor(item.Colour.Red, item.Colour.Green, item.Colour.Blue);
            var (x, y) = item.Centre(imageSize);
            var r = item.Radius(imageSize);
            switch (item.Shape)
            {
                case ShapeKind.Circle:
                    canvas.DrawCircle(x, y, r, paint);
                    break;
                case ShapeKind.Square:
                    canvas.DrawRect(SKRect.Create(x - r, y - r, 2 * r, 2 * r), paint);
                    break;
                case ShapeKind.Triangle:
                    DrawPolygon(canvas, paint, [new(x, y - r), new(x + r, y + r), new(x - r, y + r)]);
                    break;
                case ShapeKind.Diamond:
                    DrawPolygon(canvas, paint, [new(x, y - r), new(x + r, y), new(x, y + r), new(x - r, y)]);
                    break;
                case ShapeKind.Cross:
                    var arm = r / 3;
                    canvas.DrawRect(SKRect.Create(x - r, y - arm, 2 * r, 2 * arm), paint);
                    canvas.DrawRect(SKRect.Create(x - arm, y - r, 2 * arm, 2 * r), paint);
                    break;
                default:
                    throw new ArgumentOutOfRangeException(nameof(imageSize), item.Shape, "Unknown shape.");
            }
        }
        using var image = surface.Snapshot();
        using var data = image.Encode(SKEncodedImageFormat.Png, 100)
            ?? throw new InvalidOperationException("SkiaSharp could not encode the scene as PNG.");
        return data.ToArray();
    }

    static void DrawPolygon(SKCanvas canvas, SKPaint paint, SKPoint[] points)
    {
        using var builder = new SKPathBuilder();
        builder.MoveTo(points[0]);
        foreach (var point in points.Skip(1))
            builder.LineTo(point);
        builder.Close();
        using var path = builder.Detach();
        canvas.DrawPath(path, paint);
    }
}
