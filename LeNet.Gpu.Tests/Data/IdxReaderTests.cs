using System.Buffers.Binary;
using LeNet.Gpu.Data;
using Xunit;

namespace LeNet.Gpu.Tests.Data;

public class IdxReaderTests
{
    private static DataFormatException Fails(Action read)
    {
        var e = Assert.Throws<DataFormatException>(read);
        Assert.DoesNotContain('\n', e.Message); // one line, fit for a command line
        return e;
    }

    [Theory]
    [InlineData(false, false)]
    [InlineData(true, true)]
    [InlineData(true, false)]
    public void GoodFiles_LoadIntoThePaperScaleWithATwoPixelBorder(bool gzipImages, bool gzipLabels)
    {
        using var dir = new TempDirectory();
        var images = Idx.Images(5, 28, 28, Idx.Pattern);
        var labels = Idx.Labels(3, 0, 9, 1, 4);
        File.WriteAllBytes(dir.File("img"), gzipImages ? Idx.Gzip(images) : images);
        File.WriteAllBytes(dir.File("lbl"), gzipLabels ? Idx.Gzip(labels) : labels);

        var set = IdxReader.Read(dir.File("img"), dir.File("lbl"), "mine");

        Assert.Equal("mine", set.Name);
        Assert.Equal(5, set.Count);
        Assert.Equal(new[] { 3, 0, 9, 1, 4 }, set.Labels);
        Assert.Equal(ClassNames.Digits, set.ClassNames);
        Assert.Equal(images.AsSpan(16).ToArray(), set.RawPixels);
        Assert.Equal((28, 28), (set.RawWidth, set.RawHeight));
        for (int i = 0; i < 5; i++)
        {
            var field = set.Image(i);
            for (int y = 0; y < 32; y++)
                for (int x = 0; x < 32; x++)
                {
                    bool inside = y >= 2 && y < 30 && x >= 2 && x < 30;
                    float expected = inside ? -0.1f + 1.275f * Idx.Pattern(i, y - 2, x - 2) / 255f : -0.1f;
                    Assert.Equal(expected, field[y * 32 + x], 5);
                }
        }
    }

    [Fact]
    public void PaperScale_BackgroundAndFullInk()
    {
        Assert.Equal(-0.1f, Dataset.InkToInput(0));
        Assert.Equal(1.175f, Dataset.InkToInput(255), 6);
    }

    [Fact]
    public void LabelFileGivenAsImages_IsRejectedByMagicNumber()
    {
        using var dir = new TempDirectory();
        File.WriteAllBytes(dir.File("lbl"), Idx.Labels(1, 2));
        var e = Fails(() => IdxReader.ReadImages(dir.File("lbl")));
        Assert.Contains(dir.File("lbl"), e.Message);
        Assert.Contains("0x00000801", e.Message);
        Assert.Contains("0x00000803", e.Message);
    }

    [Fact]
    public void NotAnIdxFile_IsRejected()
    {
        using var dir = new TempDirectory();
        File.WriteAllText(dir.File("x"), "<html>not found</html>");
        Assert.Contains("not an IDX file", Fails(() => IdxReader.ReadLabels(dir.File("x"))).Message);
        File.WriteAllBytes(dir.File("empty"), []);
        Assert.Contains("empty file", Fails(() => IdxReader.ReadLabels(dir.File("empty"))).Message);
        File.WriteAllBytes(dir.File("short"), Idx.Images(1, 2, 2, Idx.Pattern)[..10]);
        Assert.Contains("truncated IDX header", Fails(() => IdxReader.ReadImages(dir.File("short"))).Message);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void TruncatedImages_AreRejected(bool gzip)
    {
        using var dir = new TempDirectory();
        var images = Idx.Images(3, 28, 28, Idx.Pattern);
        var cut = images[..^100];
        File.WriteAllBytes(dir.File("img"), gzip ? Idx.Gzip(cut) : cut);
        var e = Fails(() => IdxReader.ReadImages(dir.File("img")));
        Assert.Contains("truncated", e.Message);
        Assert.Contains("3 images of 28×28", e.Message);
    }

    [Fact]
    public void CutGzipStream_IsRejected()
    {
        using var dir = new TempDirectory();
        var gz = Idx.Gzip(Idx.Images(50, 28, 28, (i, y, x) => (byte)Random.Shared.Next(256)));
        File.WriteAllBytes(dir.File("img.gz"), gz[..(gz.Length / 2)]);
        var e = Fails(() => IdxReader.ReadImages(dir.File("img.gz")));
        Assert.Contains(dir.File("img.gz"), e.Message);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void TrailingBytes_AreRejected(bool gzip)
    {
        using var dir = new TempDirectory();
        var labels = Idx.Labels(1, 2, 3).Concat(new byte[] { 7, 7 }).ToArray();
        File.WriteAllBytes(dir.File("lbl"), gzip ? Idx.Gzip(labels) : labels);
        Assert.Contains("unexpected bytes", Fails(() => IdxReader.ReadLabels(dir.File("lbl"))).Message);
    }

    [Fact]
    public void CountMismatch_NamesBothFiles()
    {
        using var dir = new TempDirectory();
        File.WriteAllBytes(dir.File("train-images"), Idx.Images(5, 28, 28, Idx.Pattern));
        File.WriteAllBytes(dir.File("train-labels"), Idx.Labels(1, 2, 3, 4));
        var e = Fails(() => IdxReader.Read(dir.File("train-images"), dir.File("train-labels"), "x"));
        Assert.Contains(dir.File("train-images"), e.Message);
        Assert.Contains(dir.File("train-labels"), e.Message);
        Assert.Contains("5 images", e.Message);
        Assert.Contains("4 labels", e.Message);
    }

    [Fact]
    public void ZeroImages_AreRejected()
    {
        using var dir = new TempDirectory();
        File.WriteAllBytes(dir.File("img"), Idx.Images(0, 28, 28, Idx.Pattern));
        Assert.Contains("image count is 0", Fails(() => IdxReader.ReadImages(dir.File("img"))).Message);
        File.WriteAllBytes(dir.File("lbl"), Idx.Labels());
        Assert.Contains("label count is 0", Fails(() => IdxReader.ReadLabels(dir.File("lbl"))).Message);
    }

    [Theory]
    [InlineData(4, 20_000_000u, "image count 20,000,000 is absurd")]
    [InlineData(8, 0u, "rows is 0")]
    [InlineData(8, 5000u, "rows 5,000 is absurd")]
    [InlineData(12, 0xFFFFFFFFu, "columns 4,294,967,295 is absurd")]
    public void AbsurdDimensions_AreRejected(int offset, uint value, string message)
    {
        using var dir = new TempDirectory();
        var images = Idx.Images(2, 28, 28, Idx.Pattern);
        BinaryPrimitives.WriteUInt32BigEndian(images.AsSpan(offset), value);
        File.WriteAllBytes(dir.File("img"), images);
        Assert.Contains(message, Fails(() => IdxReader.ReadImages(dir.File("img"))).Message);
    }

    [Fact]
    public void ImagesLargerThanTheField_AreRejected()
    {
        using var dir = new TempDirectory();
        File.WriteAllBytes(dir.File("img"), Idx.Images(1, 40, 40, Idx.Pattern));
        File.WriteAllBytes(dir.File("lbl"), Idx.Labels(1));
        Assert.Contains("at most 32×32", Fails(() => IdxReader.Read(dir.File("img"), dir.File("lbl"), "x")).Message);
    }

    [Fact]
    public void LabelOutOfRange_IsRejected()
    {
        using var dir = new TempDirectory();
        File.WriteAllBytes(dir.File("lbl"), Idx.Labels(1, 2, 10));
        var e = Fails(() => IdxReader.ReadLabels(dir.File("lbl")));
        Assert.Contains("label 10 of item 2 is not a class (0..9)", e.Message);
    }

    [Fact]
    public void MissingFile_IsNotFound()
    {
        var e = Assert.Throws<DataNotFoundException>(() => IdxReader.ReadImages("/nonexistent/train-images-idx3-ubyte"));
        Assert.Contains("/nonexistent/train-images-idx3-ubyte", e.Message);
    }

    [Fact]
    public void IdxDirectory_FindsRawGzipAndDottedNames()
    {
        using var dir = new TempDirectory();
        File.WriteAllBytes(dir.File("train-images-idx3-ubyte.gz"), Idx.Gzip(Idx.Images(3, 28, 28, Idx.Pattern)));
        File.WriteAllBytes(dir.File("train-labels-idx1-ubyte"), Idx.Labels(0, 1, 2));
        File.WriteAllBytes(dir.File("t10k-images.idx3-ubyte"), Idx.Images(2, 28, 28, Idx.Pattern));
        Assert.False(IdxDirectory.Exists(dir.Path));
        File.WriteAllBytes(dir.File("t10k-labels-idx1-ubyte.gz"), Idx.Gzip(Idx.Labels(8, 9)));
        Assert.True(IdxDirectory.Exists(dir.Path));

        var (train, test) = IdxDirectory.LoadBoth(dir.Path, "toy");
        Assert.Equal(("toy/train", 3), (train.Name, train.Count));
        Assert.Equal(("toy/test", 2), (test.Name, test.Count));
        Assert.Equal(new[] { 8, 9 }, test.Labels);
    }

    [Fact]
    public void IdxDirectory_MissingFile_SaysWhich()
    {
        using var dir = new TempDirectory();
        File.WriteAllBytes(dir.File("train-images-idx3-ubyte"), Idx.Images(1, 28, 28, Idx.Pattern));
        var e = Assert.Throws<DataNotFoundException>(() => IdxDirectory.Load(dir.Path, DataSplit.Train));
        Assert.Contains("train-labels-idx1-ubyte", e.Message);
        Assert.Contains(dir.Path, e.Message);
    }
}
