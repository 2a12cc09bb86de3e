using LeNet.Gpu.Engine;
using LeNet.Gpu.Model;
using Xunit;

namespace LeNet.Gpu.Tests.Model;

/// <summary>The activation layout against the paper's layer sizes, typed here independently of the layer table.</summary>
public sealed class ActivationLayoutTests
{
    // INPUT 32×32, C1 6@28×28, S2 6@14×14, C3 16@10×10, S4 16@5×5, C5 120, F6 84, OUTPUT 10 (LeCun et al. 1998, Fig. 2).
    private static readonly int[] PaperLengths = [1024, 4704, 1176, 1600, 400, 120, 84, 10];

    [Fact]
    public void Every_layer_lies_after_the_one_before_it_per_image_and_per_tile()
    {
        int offset = 0;
        foreach (var layer in Enum.GetValues<Layer>())
        {
            Assert.Equal(PaperLengths[(int)layer], ActivationLayout.LengthOf(layer));
            Assert.Equal(offset, ActivationLayout.OffsetOf(layer));
            Assert.Equal(8L * offset, ActivationLayout.OffsetOf(layer, 8));
            Assert.Equal(8L * PaperLengths[(int)layer], ActivationLayout.LengthOf(layer, 8));
            offset += PaperLengths[(int)layer];
        }
        Assert.Equal(9118, offset);
        Assert.Equal(offset, ActivationLayout.PerImage);
    }

    [Fact]
    public void A_trace_is_indexed_by_layer_and_refuses_a_layer_of_the_wrong_length()
    {
        const int images = 2;
        var layers = PaperLengths.Select((length, l) => Enumerable.Range(0, images * length).Select(i => l * 1e5f + i).ToArray()).ToArray();
        var trace = new LayerOutputs(images, layers, new float[images * 10], new int[images]);
        Assert.Same(layers[(int)Layer.C3], trace.Of(Layer.C3));
        Assert.Equal(3e5f + 1600, trace.Of(Layer.C3, 1)[0]); // image 1 starts one C3 map set in
        Assert.Equal(1600, trace.Of(Layer.C3, 1).Length);

        layers[(int)Layer.S4] = new float[images * 400 - 1];
        var e = Assert.Throws<ArgumentException>(() => new LayerOutputs(images, layers, new float[images * 10], new int[images]));
        Assert.Contains("S4", e.Message);
    }
}
