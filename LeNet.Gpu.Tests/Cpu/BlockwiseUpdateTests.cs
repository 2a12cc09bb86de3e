using System.Collections.Concurrent;
using LeNet.Gpu.Cpu;
using LeNet.Gpu.Model;
using Xunit;

namespace LeNet.Gpu.Tests.Cpu;

/// <summary>
/// An optimizer step handed to <see cref="CpuNetwork.Backward(ReadOnlySpan{float}, Squashing, ReadOnlySpan{int}, int, Span{float}, bool, float, Action{int, int}?, out double, out int)"/>
/// runs block by block as the gradients are summed: every parameter in exactly one block, after its gradient is
/// final, and the result bit for bit that of the backward pass followed by one step over all parameters.
/// </summary>
public class BlockwiseUpdateTests
{
    private static readonly int N = ParameterLayout.Length;

    // Batch 64 (whole chunks), 20 (four images left over after a 16-image group), 1 (the per-pattern path, 128 bits).
    [Theory]
    [InlineData(64, 1, CpuVectorWidth.Auto)]
    [InlineData(64, 2, CpuVectorWidth.Auto)]
    [InlineData(20, 2, CpuVectorWidth.Bits256)]
    [InlineData(64, 2, CpuVectorWidth.Bits512)]
    [InlineData(1, 1, CpuVectorWidth.Bits128)]
    public void Sgd_inside_the_backward_pass_equals_sgd_after_it(int count, int threads, CpuVectorWidth width)
    {
        var model = CpuTestData.Model(3, Squashing.ScaledTanh);
        var images = CpuTestData.Images(count, 4);
        var labels = CpuTestData.Labels(count, 5);
        var trainable = ParameterLayout.TrainableMask();
        const float lr = 0.05f, mu = 0.9f, wd = 1e-4f;

        // Two steps each, so that the second starts from moved parameters and a non-zero velocity.
        float[] expected = (float[])model.Parameters.Clone(), expectedVelocity = new float[N], expectedGradients = new float[N];
        using (var net = new CpuNetwork(count, threads, width))
            for (int step = 0; step < 2; step++)
            {
                net.ForwardForBackward(expected, Squashing.ScaledTanh, images, count, OutputLayer.Softmax, ConvolutionSquashing.Linear);
                net.Backward(expected, Squashing.ScaledTanh, labels, count, expectedGradients, false, out _, out _);
                CpuOptimizer.Sgd(lr, mu, wd, expected, expectedGradients, expectedVelocity, trainable);
            }

        float[] actual = (float[])model.Parameters.Clone(), velocity = new float[N], gradients = new float[N];
        var blocks = new ConcurrentBag<(int From, int To)>();
        using (var net = new CpuNetwork(count, threads, width))
            for (int step = 0; step < 2; step++)
            {
                blocks.Clear();
                net.ForwardForBackward(actual, Squashing.ScaledTanh, images, count, OutputLayer.Softmax, ConvolutionSquashing.Linear);
                net.Backward(actual, Squashing.ScaledTanh, labels, count, gradients, false, 0f, (from, to) =>
                {
                    blocks.Add((from, to));
                    CpuOptimizer.Sgd(lr, mu, wd, actual.AsSpan(from, to - from), gradients.AsSpan(from, to - from),
                        velocity.AsSpan(from, to - from), trainable.AsSpan(from, to - from));
                }, out _, out _);
                var covered = new int[N];
                foreach (var (from, to) in blocks)
                    for (int k = from; k < to; k++) covered[k]++;
                Assert.All(covered, c => Assert.Equal(1, c));
            }

        Assert.Equal(expectedGradients, gradients);
        Assert.Equal(expected, actual);
        Assert.Equal(expectedVelocity, velocity);
        Assert.NotEqual(model.Parameters, actual); // the steps moved something
    }
}
