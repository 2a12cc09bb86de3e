using LeNet.Gpu.Data;
using Xunit;

namespace LeNet.Gpu.Tests.Data;

public class FashionMnistTests
{
    [SkippableFact]
    public void RealFiles_Load60000TrainAnd10000TestWithLabelsInRange()
    {
        string? directory = RealData.FashionDirectory;
        Skip.If(directory is null, RealData.FashionMissing);

        var train = FashionMnist.LoadTrain(directory);
        var test = FashionMnist.LoadTest(directory);

        Assert.Equal(("fashion/train", 60_000), (train.Name, train.Count));
        Assert.Equal(("fashion/test", 10_000), (test.Name, test.Count));
        Assert.Equal(ClassNames.Fashion, train.ClassNames);
        Assert.Equal("Ankle boot", train.ClassNames[9]);
        // Fashion-MNIST is balanced: 6,000 and 1,000 per class.
        Assert.Equal(Enumerable.Repeat(6_000, 10), train.CountPerClass());
        Assert.Equal(Enumerable.Repeat(1_000, 10), test.CountPerClass());
        Assert.Equal((28, 28), (train.RawWidth, train.RawHeight));

        // Light items on black, like MNIST: the corners of the raw images are background, and every field's
        // 2-pixel border is −0.1.
        for (int i = 0; i < test.Count; i += 97)
        {
            Assert.Equal(0, test.RawImage(i)[0]);
            var field = test.Image(i);
            for (int k = 0; k < 32; k++)
            {
                Assert.Equal(-0.1f, field[k]);
                Assert.Equal(-0.1f, field[k * 32]);
            }
            Assert.InRange(field.ToArray().Max(), 0.5f, 1.175f + 1e-6f);
        }
    }
}
