using LeNet.Gpu.Data;
using Xunit;

namespace LeNet.Gpu.Tests.Data;

public class OpenCvDigitsTests
{
    /// <summary>A synthetic sheet: cell (row, column) carries its row and column in two of its pixels.</summary>
    private static GrayImage MarkedSheet(bool blackOnWhite)
    {
        var pixels = new byte[2000 * 1000];
        for (int row = 0; row < 50; row++)
            for (int column = 0; column < 100; column++)
            {
                pixels[(row * 20 + 5) * 2000 + column * 20 + 7] = (byte)(row + 1);
                pixels[(row * 20 + 12) * 2000 + column * 20 + 3] = (byte)(column + 1);
                pixels[(row * 20 + 19) * 2000 + column * 20 + 19] = 255; // ink at the cell's far corner
            }
        if (blackOnWhite)
            for (int i = 0; i < pixels.Length; i++) pixels[i] = (byte)(255 - pixels[i]);
        return new GrayImage(2000, 1000, pixels);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Sheet_IsSlicedByRowBlockIntoClassesAndByColumnHalvesIntoSplits(bool blackOnWhite)
    {
        var (train, test) = OpenCvDigits.FromSheet(MarkedSheet(blackOnWhite));
        Assert.Equal(("digits/train", 2_500), (train.Name, train.Count));
        Assert.Equal(("digits/test", 2_500), (test.Name, test.Count));
        foreach (var (set, firstColumn) in new[] { (train, 0), (test, 50) })
            for (int i = 0; i < set.Count; i++)
            {
                var raw = set.RawImage(i);
                int row = raw[5 * 20 + 7] - 1, column = raw[12 * 20 + 3] - 1;
                Assert.Equal(i / 50, row);
                Assert.Equal(firstColumn + i % 50, column);
                Assert.Equal(row / 5, set.Labels[i]);
                // Each cell is prepared exactly as `predict` prepares a picture (20×20 box, centre of mass).
                if (i % 97 == 0)
                    Assert.Equal(ImageLoader.Prepare(new GrayImage(20, 20, raw.ToArray())), set.Image(i).ToArray());
            }
        Assert.Equal(Enumerable.Repeat(250, 10), train.CountPerClass());
        Assert.Equal(Enumerable.Repeat(250, 10), test.CountPerClass());
    }

    [Fact]
    public void WrongSizedImage_IsRejected()
    {
        var e = Assert.Throws<DataFormatException>(() => OpenCvDigits.FromSheet(new GrayImage(20, 10, new byte[200]), "x.png"));
        Assert.Contains("x.png: image is 20×10", e.Message);
    }

    [Fact]
    public void ClassOfRow_FiveRowsPerClass()
    {
        Assert.Equal(new[] { 0, 0, 0, 0, 0, 1, 9 }, new[] { 0, 1, 2, 3, 4, 5, 49 }.Select(OpenCvDigits.ClassOfRow));
    }

    [SkippableFact]
    public void RealSheet_SplitsNormalisesAndKeepsInkBright()
    {
        string? path = RealData.DigitsPath;
        Skip.If(path is null, RealData.DigitsMissing);

        var (train, test) = OpenCvDigits.Load(path);
        Assert.Equal(2_500, train.Count);
        Assert.Equal(2_500, test.Count);
        Assert.Equal(Enumerable.Repeat(250, 10), train.CountPerClass());
        Assert.Equal(Enumerable.Repeat(250, 10), test.CountPerClass());
        Assert.Equal((20, 20), (train.RawWidth, train.RawHeight));

        var inkPerClass = new double[10];
        foreach (var set in new[] { train, test })
            for (int i = 0; i < set.Count; i++)
            {
                // Normalised as the paper normalised MNIST: clear ink fits a 20×20 box, touching it on its longer
                // side, and its centre of mass sits at the field's centre (15.5, 15.5) to within a pixel.
                var field = set.Image(i);
                float max = float.MinValue;
                int left = 32, right = -1, top = 32, bottom = -1;
                double mass = 0, mx = 0, my = 0;
                for (int y = 0; y < 32; y++)
                    for (int x = 0; x < 32; x++)
                    {
                        float v = field[y * 32 + x];
                        max = Math.Max(max, v);
                        double ink = v + 0.1;
                        mass += ink; mx += ink * x; my += ink * y;
                        if (v > -0.1f + 1.275f / 4)
                        {
                            left = Math.Min(left, x); right = Math.Max(right, x);
                            top = Math.Min(top, y); bottom = Math.Max(bottom, y);
                        }
                    }
                Assert.True(max > 0.5f, $"{set.Name} image {i} has no bright ink (max {max})");
                int longer = Math.Max(right - left + 1, bottom - top + 1);
                Assert.InRange(longer, 17, 20);
                Assert.InRange(mx / mass, 14.5, 16.5);
                Assert.InRange(my / mass, 14.5, 16.5);
                foreach (byte b in set.RawImage(i)) inkPerClass[set.Labels[i]] += b;
            }

        // White ink on black: most of each cell is background.
        Assert.InRange(train.RawPixels!.Average(b => (double)b), 10, 80);
        // Row blocks really are classes: ones carry the least ink, zeros and eights much more.
        Assert.Equal(1, Array.IndexOf(inkPerClass, inkPerClass.Min()));
        Assert.True(inkPerClass[0] > 1.5 * inkPerClass[1] && inkPerClass[8] > 1.5 * inkPerClass[1]);
    }
}
