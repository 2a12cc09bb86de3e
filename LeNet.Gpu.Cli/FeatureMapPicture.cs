using System.Globalization;
using LeNet.Gpu.Data;
using LeNet.Gpu.Model;
using LeNet.Gpu.Serialization;
using SkiaSharp;

namespace LeNet.Gpu.Cli;

/// <summary>
/// One image's path through the network as a PNG: every layer's maps as tiles with their indices, each layer on
/// a diverging colour scale symmetric about zero (blue negative, white zero, red positive) with its legend, and
/// the class probabilities. Written for `lenet visualize`.
/// </summary>
public static class FeatureMapPicture
{
    private const int Width = 1040, Margin = 20, LegendWidth = 180;
    private const float TitleSize = 15, LabelSize = 12, IndexSize = 10;

    /// <summary>Pixels per map value, so small maps stay readable: 32×32 → 4, 28×28 → 4, 5×5 → 8 …</summary>
    private static int ScaleOf(FeatureLayer layer) => layer switch
    {
        { IsVector: true } => Math.Max(4, (Width - 2 * Margin) / layer.Width),
        { Width: >= Architecture.C1Size } => 4,
        { Width: >= Architecture.S2Size } => 6,
        { Width: >= Architecture.C3Size } => 5,
        _ => 8,
    };

    public static byte[] Render(FeatureMaps maps, IReadOnlyList<string> classNames, string title)
    {
        const int tileGap = 8, labelHeight = 30, indexHeight = 14, layerGap = 14, barsHeight = Architecture.Classes * 18 + labelHeight;
        int height = Margin + 26;
        foreach (var layer in maps.Layers)
            height += labelHeight + (layer.IsVector ? 24 : layer.Height * ScaleOf(layer)) + indexHeight + layerGap;
        height += barsHeight + Margin;

        using var surface = SKSurface.Create(new SKImageInfo(Width, height));
        var canvas = surface.Canvas;
        canvas.Clear(SKColors.White);
        var typeface = Fonts.Sans(); // not disposed: it may be Skia's shared default
        using var titleFont = new SKFont(typeface, TitleSize);
        using var labelFont = new SKFont(typeface, LabelSize);
        using var indexFont = new SKFont(typeface, IndexSize);
        using var ink = new SKPaint { Color = SKColors.Black, IsAntialias = true };
        using var grey = new SKPaint { Color = new SKColor(90, 90, 90), IsAntialias = true };
        using var frame = new SKPaint { Color = new SKColor(160, 160, 160), Style = SKPaintStyle.Stroke, StrokeWidth = 1 };

        float y = Margin + 14;
        canvas.DrawText(title, Margin, y, titleFont, ink);
        y += 12;

        foreach (var layer in maps.Layers)
        {
            int scale = ScaleOf(layer);
            float range = layer.MaxAbs;
            y += labelHeight;
            canvas.DrawText(layer.Name, Margin, y - 8, labelFont, ink);
            DrawLegend(canvas, Width - Margin - LegendWidth, y - 26, range, labelFont, indexFont, ink, frame);

            if (layer.IsVector)
            {
                // A vector as one strip of cells; indices every 10 units.
                int cell = Math.Min(scale, (Width - 2 * Margin) / layer.Width);
                for (int i = 0; i < layer.Width; i++)
                {
                    using var fill = new SKPaint { Color = Diverging(layer.Values[i] / range) };
                    canvas.DrawRect(Margin + i * cell, y, cell, 24, fill);
                }
                canvas.DrawRect(Margin - 0.5f, y - 0.5f, layer.Width * cell + 1, 25, frame);
                for (int i = 0; i < layer.Width; i += 10)
                    canvas.DrawText(i.ToString(CultureInfo.InvariantCulture), Margin + i * cell, y + 24 + 11, indexFont, grey);
                y += 24 + indexHeight + layerGap;
                continue;
            }

            int side = layer.Width * scale;
            for (int m = 0; m < layer.Maps; m++)
            {
                float x0 = Margin + m * (side + tileGap);
                var map = layer.Map(m);
                for (int r = 0; r < layer.Height; r++)
                    for (int c = 0; c < layer.Width; c++)
                    {
                        using var fill = new SKPaint { Color = Diverging(map[r * layer.Width + c] / range) };
                        canvas.DrawRect(x0 + c * scale, y + r * scale, scale, scale, fill);
                    }
                canvas.DrawRect(x0 - 0.5f, y - 0.5f, side + 1, layer.Height * scale + 1, frame);
                if (layer.Maps > 1)
                    canvas.DrawText(m.ToString(CultureInfo.InvariantCulture), x0 + side / 2f - 3, y + layer.Height * scale + 11, indexFont, grey);
            }
            y += layer.Height * scale + indexHeight + layerGap;
        }

        // OUTPUT: the probabilities as bars, the predicted class in bold colour.
        y += labelHeight;
        canvas.DrawText($"OUTPUT {Architecture.Classes} (softmax probabilities)", Margin, y - 6, labelFont, ink);
        const float barMax = 600;
        for (int c = 0; c < maps.Probabilities.Length; c++)
        {
            float top = y + c * 18;
            string name = c < classNames.Count ? classNames[c] : c.ToString(CultureInfo.InvariantCulture);
            canvas.DrawText(name, Margin, top + 12, labelFont, ink);
            using var bar = new SKPaint { Color = c == maps.Class ? new SKColor(200, 40, 40) : new SKColor(120, 120, 120) };
            canvas.DrawRect(Margin + 110, top + 2, Math.Max(1, barMax * maps.Probabilities[c]), 13, bar);
            canvas.DrawText(maps.Probabilities[c].ToString("0.0000", CultureInfo.InvariantCulture), Margin + 120 + barMax, top + 12, labelFont, ink);
        }

        using var image = surface.Snapshot();
        using var data = image.Encode(SKEncodedImageFormat.Png, 100);
        return data.ToArray();
    }

    public static void Save(FeatureMaps maps, IReadOnlyList<string> classNames, string title, string path) =>
        AtomicFile.WriteAllBytes(path, Render(maps, classNames, title));

    /// <summary>−1 → blue, 0 → white, +1 → red; values beyond ±1 are clamped.</summary>
    public static SKColor Diverging(float t)
    {
        if (!float.IsFinite(t)) return new SKColor(255, 0, 255); // NaN/∞ stand out in magenta
        t = Math.Clamp(t, -1f, 1f);
        byte fade = (byte)Math.Round(255 * (1 - Math.Abs(t)));
        return t >= 0 ? new SKColor(255, fade, fade) : new SKColor(fade, fade, 255);
    }

    private static void DrawLegend(SKCanvas canvas, float x, float y, float range, SKFont font, SKFont small, SKPaint ink, SKPaint frame)
    {
        const int barWidth = 120, barHeight = 10;
        for (int i = 0; i < barWidth; i++)
        {
            using var fill = new SKPaint { Color = Diverging(2f * i / (barWidth - 1) - 1f) };
            canvas.DrawRect(x + i, y, 1, barHeight, fill);
        }
        canvas.DrawRect(x - 0.5f, y - 0.5f, barWidth + 1, barHeight + 1, frame);
        string r = range.ToString("0.###", CultureInfo.InvariantCulture);
        canvas.DrawText($"−{r}", x - 4 - font.MeasureText($"−{r}"), y + barHeight, small, ink);
        canvas.DrawText($"+{r}", x + barWidth + 4, y + barHeight, small, ink);
        canvas.DrawText("0", x + barWidth / 2f - 3, y + barHeight + 11, small, ink);
    }
}

/// <summary>A sans-serif typeface that actually has glyphs on this machine.</summary>
public static class Fonts
{
    private static readonly string[] Candidates =
    [
        "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
        "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
    ];

    /// <summary>
    /// Skia's Linux build without fontconfig can hand back a default typeface with no glyphs, which would draw
    /// every label as nothing; a system font file is tried first, then the family manager, then the default.
    /// </summary>
    public static SKTypeface Sans()
    {
        foreach (var path in Candidates)
            if (File.Exists(path) && SKTypeface.FromFile(path) is { } fromFile && fromFile.GlyphCount > 0)
                return fromFile;
        if (SKFontManager.Default.MatchFamily("sans-serif") is { GlyphCount: > 0 } matched) return matched;
        return SKTypeface.Default;
    }
}
