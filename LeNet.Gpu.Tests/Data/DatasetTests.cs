using LeNet.Gpu.Data;
using Xunit;

namespace LeNet.Gpu.Tests.Data;

public class DatasetTests
{
    private static Dataset Toy(int n)
    {
        var pixels = new byte[n * 4];
        for (int i = 0; i < n; i++) pixels[i * 4] = (byte)i; // image i's first pixel = i: identifies it
        var labels = Enumerable.Range(0, n).Select(i => i % 10).ToArray();
        return Dataset.FromInkBytes("toy", ClassNames.Digits, pixels, 2, 2, labels);
    }

    [Fact]
    public void SmallImages_AreCentredInTheField()
    {
        var set = Toy(1);
        // A 2×2 image sits at offset 15 in the 32×32 field.
        Assert.Equal(Dataset.InkToInput(0), set.Image(0)[15 * 32 + 15]);
        Assert.Equal(4 * 1, set.RawImage(0).Length);
    }

    [Fact]
    public void Subset_CopiesImagesLabelsAndRawPixelsInOrder()
    {
        var set = Toy(20);
        var sub = set.Subset([7, 3, 19]);
        Assert.Equal(new[] { 7, 3, 9 }, sub.Labels);
        Assert.Equal(new byte[] { 7, 3, 19 }, new[] { sub.RawImage(0)[0], sub.RawImage(1)[0], sub.RawImage(2)[0] });
        Assert.Equal(set.Image(3).ToArray(), sub.Image(1).ToArray());
        Assert.Throws<ArgumentOutOfRangeException>(() => set.Subset([20]));
    }

    [Fact]
    public void Split_IsDeterministicDisjointAndComplete()
    {
        var set = Toy(100);
        var (train, validation) = set.Split(0.2, seed: 42);
        var (train2, validation2) = set.Split(20, seed: 42);
        var (_, validation3) = set.Split(20, seed: 43);

        Assert.Equal((80, 20), (train.Count, validation.Count));
        Assert.Equal(validation.RawPixels, validation2.RawPixels);
        Assert.Equal(train.RawPixels, train2.RawPixels);
        Assert.NotEqual(validation.RawPixels, validation3.RawPixels);

        var ids = (Dataset d) => Enumerable.Range(0, d.Count).Select(i => (int)d.RawImage(i)[0]).ToArray();
        var all = ids(train).Concat(ids(validation)).Order().ToArray();
        Assert.Equal(Enumerable.Range(0, 100), all);
        Assert.Equal(ids(validation).Order(), ids(validation)); // original order kept
        Assert.Equal("toy/validation", validation.Name);
    }

    [Fact]
    public void CountPerClass_CountsLabels()
    {
        Assert.Equal(Enumerable.Repeat(3, 10), Toy(30).CountPerClass());
    }

    [Fact]
    public void InconsistentArrays_AreRejected()
    {
        Assert.Throws<ArgumentException>(() => new Dataset("x", ClassNames.Digits, new float[1023], [0]));
        Assert.Throws<ArgumentException>(() => new Dataset("x", ClassNames.Digits, new float[1024], [10]));
        Assert.Throws<ArgumentException>(() => Dataset.FromInkBytes("x", ClassNames.Digits, new byte[33 * 33], 33, 33, [0]));
    }
}
