using LeNet.Gpu.Data;
using SkiaSharp;
using Xunit;

namespace LeNet.Gpu.Tests.Data;

public class ImageLoaderTests
{
    /// <summary>A "0"-like ring drawn off-centre in a 120×90 picture.</summary>
    private static byte[] Picture(SKColor paper, SKColor ink, SKEncodedImageFormat format)
    {
        using var bitmap = new SKBitmap(120, 90);
        using (var canvas = new SKCanvas(bitmap))
        {
            canvas.Clear(paper);
            using var paint = new SKPaint { Color = ink, IsStroke = true, StrokeWidth = 6, IsAntialias = true };
            canvas.DrawOval(new SKRect(15, 10, 45, 70), paint); // 30 wide (+stroke), 60 tall: aspect 3:5 or so
        }
        using var image = SKImage.FromBitmap(bitmap);
        using var data = image.Encode(format, 95);
        return data.ToArray();
    }

    private static (int Left, int Top, int Right, int Bottom, double Cx, double Cy) Ink(float[] field)
    {
        int left = 32, top = 32, right = -1, bottom = -1;
        double sum = 0, sx = 0, sy = 0;
        for (int y = 0; y < 32; y++)
            for (int x = 0; x < 32; x++)
            {
                double ink = field[y * 32 + x] + 0.1;
                sum += ink; sx += ink * x; sy += ink * y;
                if (ink > 0.3)
                {
                    left = Math.Min(left, x); right = Math.Max(right, x);
                    top = Math.Min(top, y); bottom = Math.Max(bottom, y);
                }
            }
        return (left, top, right, bottom, sx / sum, sy / sum);
    }

    [Fact]
    public void DarkDigitOnWhite_IsInvertedCroppedScaledAndCentred()
    {
        using var dir = new TempDirectory();
        File.WriteAllBytes(dir.File("digit.png"), Picture(SKColors.White, SKColors.Black, SKEncodedImageFormat.Png));

        var field = ImageLoader.Load(dir.File("digit.png"));

        Assert.Equal(32 * 32, field.Length);
        // Polarity: paper became background (−0.1), strokes became ink (up to 1.175).
        foreach (int corner in new[] { 0, 31, 31 * 32, 32 * 32 - 1 }) Assert.Equal(-0.1f, field[corner], 5);
        Assert.Equal(1.175f, field.Max(), 3);
        Assert.True(field.Min() >= -0.1f - 1e-6f);

        var ink = Ink(field);
        Assert.Equal(20, ink.Bottom - ink.Top + 1, 1.0);   // the taller side fills the 20-pixel box
        Assert.InRange(ink.Right - ink.Left + 1, 9, 14);     // width keeps the aspect ratio (~36/66 of 20)
        Assert.Equal(15.5, ink.Cx, 1.0);                     // centre of mass at the field's centre
        Assert.Equal(15.5, ink.Cy, 1.0);
    }

    [Fact]
    public void LightDigitOnBlack_GivesTheSameField()
    {
        using var dir = new TempDirectory();
        File.WriteAllBytes(dir.File("dark.png"), Picture(SKColors.White, SKColors.Black, SKEncodedImageFormat.Png));
        File.WriteAllBytes(dir.File("light.png"), Picture(SKColors.Black, SKColors.White, SKEncodedImageFormat.Png));
        var dark = ImageLoader.Load(dir.File("dark.png"));
        var light = ImageLoader.Load(dir.File("light.png"));
        for (int i = 0; i < dark.Length; i++) Assert.Equal(dark[i], light[i], 0.02f);
    }

    [Fact]
    public void Jpeg_OnGreyPaper_Loads()
    {
        using var dir = new TempDirectory();
        File.WriteAllBytes(dir.File("digit.jpg"),
            Picture(new SKColor(200, 190, 180), new SKColor(20, 20, 60), SKEncodedImageFormat.Jpeg));
        var field = ImageLoader.Load(dir.File("digit.jpg"), ImageCentring.BoundingBox);
        var ink = Ink(field);
        Assert.Equal(-0.1f, field[0], 2);
        Assert.Equal(15.5, (ink.Top + ink.Bottom) / 2.0, 1.0);
        Assert.Equal(15.5, (ink.Left + ink.Right) / 2.0, 1.0);
    }

    [Fact]
    public void BlankPicture_HasNoInk()
    {
        using var bitmap = new SKBitmap(40, 40);
        bitmap.Erase(SKColors.White);
        using var data = SKImage.FromBitmap(bitmap).Encode(SKEncodedImageFormat.Png, 100);
        var e = Assert.Throws<DataFormatException>(() => ImageLoader.Prepare(ImageLoader.Decode(data.ToArray(), "blank.png"), source: "blank.png"));
        Assert.Contains("blank.png: no ink", e.Message);
    }

    [Fact]
    public void NotAnImage_IsRejected()
    {
        using var dir = new TempDirectory();
        File.WriteAllText(dir.File("x.png"), "definitely not a png");
        var e = Assert.Throws<DataFormatException>(() => ImageLoader.Load(dir.File("x.png")));
        Assert.Contains(dir.File("x.png"), e.Message);
        Assert.Throws<DataNotFoundException>(() => ImageLoader.Load(dir.File("missing.png")));
    }
}
