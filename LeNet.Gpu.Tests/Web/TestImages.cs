using SkiaSharp;

namespace LeNet.Gpu.Tests.Web;

/// <summary>Pictures of digits as a person draws them on the page: black strokes on a white 280×280 pad.</summary>
public static class TestImages
{
    public const int Side = 280;

    /// <summary>A "0": one ellipse, stroke 20 px wide (the page's pen).</summary>
    public static byte[] Zero(SKEncodedImageFormat format = SKEncodedImageFormat.Png) => Draw(format, canvas =>
    {
        using var pen = Pen();
        canvas.DrawOval(Side / 2f, Side / 2f, 0.25f * Side, 0.36f * Side, pen);
    });

    /// <summary>A white pad with nothing drawn on it.</summary>
    public static byte[] Blank() => Draw(SKEncodedImageFormat.Png, _ => { });

    private static SKPaint Pen() => new()
    {
        Color = SKColors.Black, Style = SKPaintStyle.Stroke, StrokeWidth = 20, StrokeCap = SKStrokeCap.Round, IsAntialias = true,
    };

    private static byte[] Draw(SKEncodedImageFormat format, Action<SKCanvas> draw)
    {
        using var surface = SKSurface.Create(new SKImageInfo(Side, Side, SKColorType.Rgba8888, SKAlphaType.Premul));
        surface.Canvas.Clear(SKColors.White);
        draw(surface.Canvas);
        using var image = surface.Snapshot();
        using var data = image.Encode(format, 90);
        return data.ToArray();
    }
}
