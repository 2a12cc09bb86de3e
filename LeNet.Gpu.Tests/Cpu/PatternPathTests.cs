using LeNet.Gpu.Cpu;
using LeNet.Gpu.Model;
using Xunit;
using P = LeNet.Gpu.Model.ParameterLayout;

namespace LeNet.Gpu.Tests.Cpu;

/// <summary>
/// A training step of one image runs within the image, never in a tile (CpuNetwork.PatternPath, TileEngine.Pattern.cs); it
/// must give exactly what the tiled step gives: the same bits of every layer's activations and probabilities, loss, hits,
/// and gradients (first order; second order, which goes through the tile), at every width, for both kinds of
/// convolutions, both output layers and both squashing functions.
/// </summary>
public class PatternPathTests
{
    public static TheoryData<Squashing, ConvolutionSquashing, OutputLayer, CpuVectorWidth> Cases()
    {
        var data = new TheoryData<Squashing, ConvolutionSquashing, OutputLayer, CpuVectorWidth>();
        foreach (var width in CpuTestData.Widths)
        {
            data.Add(Squashing.ScaledTanh, ConvolutionSquashing.Linear, OutputLayer.Softmax, width);
            data.Add(Squashing.ScaledTanh, ConvolutionSquashing.Squashed, OutputLayer.Rbf, width);
            data.Add(Squashing.Sigmoid, ConvolutionSquashing.Squashed, OutputLayer.Softmax, width);
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void One_image_gives_the_bits_of_the_tiled_pass(Squashing squashing, ConvolutionSquashing convolutions, OutputLayer output, CpuVectorWidth width)
    {
        var model = LeNetModel.CreateRandom(41, squashing, WeightInitialization.Paper, output, convolutions: convolutions);
        var images = CpuTestData.Images(6, seed: 42);
        var pattern = new CpuNetwork(8, 1, width);
        var tiled = new CpuNetwork(8, 1, width) { PatternPath = false };
        // A batch of 8 first, so that tile 0's lanes and the backward buffers hold another batch's values (a trainer's
        // network also runs Hessian estimates and evaluations): the one-image path must not read them.
        var warm = CpuTestData.Images(8, seed: 43);
        pattern.ForwardForBackward(model.Parameters, model.Squashing, warm, 8, output, convolutions);
        pattern.Backward(model.Parameters, model.Squashing, CpuTestData.Labels(8, 44), 8, new float[P.Length], false, 0.1f, out _, out _);
        for (int n = 0; n < 6; n++)
        {
            var image = images.AsSpan(n * Architecture.InputLength, Architecture.InputLength);
            int[] label = [n % 10];
            foreach (bool secondOrder in new[] { false, true })
            {
                var (a, lossA, hitsA, layersA) = Step(pattern, model, image, label, secondOrder, output, convolutions);
                var (b, lossB, hitsB, layersB) = Step(tiled, model, image, label, secondOrder, output, convolutions);
                for (int l = 0; l < layersA.Length; l++)
                    Assert.True(Bytes(layersA[l]).SequenceEqual(Bytes(layersB[l])), $"image {n}: {(l < layersA.Length - 1 ? (Layer)l : "probabilities")} differs from the tiled pass");
                Assert.True(Bytes(a).SequenceEqual(Bytes(b)), $"image {n}, second order {secondOrder}: gradients differ from the tiled pass");
                Assert.Equal(BitConverter.DoubleToInt64Bits(lossB), BitConverter.DoubleToInt64Bits(lossA));
                Assert.Equal(hitsB, hitsA);
                Assert.Contains(a, g => g != 0f); // it computed something
            }
        }
    }

    // Bytes, not floats: float equality takes −0 for +0.
    private static ReadOnlySpan<byte> Bytes(float[] values) => System.Runtime.InteropServices.MemoryMarshal.AsBytes(values.AsSpan());

    private static (float[] Gradients, double Loss, int Hits, float[][] Layers) Step(CpuNetwork network, LeNetModel model,
        ReadOnlySpan<float> image, int[] label, bool secondOrder, OutputLayer output, ConvolutionSquashing convolutions)
    {
        network.ForwardForBackward(model.Parameters, model.Squashing, image, 1, output, convolutions);
        var layers = Enum.GetValues<Layer>().Select(network.Activations).Append(network.Probabilities.ToArray()).ToArray();
        var gradients = new float[P.Length];
        network.Backward(model.Parameters, model.Squashing, label, 1, gradients, secondOrder, 0.1f, out double loss, out int hits);
        return (gradients, loss, hits, layers);
    }
}
