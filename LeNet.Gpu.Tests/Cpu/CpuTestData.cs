using System.Collections.Concurrent;
using LeNet.Gpu.Cpu;
using LeNet.Gpu.Model;
using LeNet.Gpu.Tests.Reference;

namespace LeNet.Gpu.Tests.Cpu;

/// <summary>Deterministic models, images and labels for the CPU engine's tests, and their float64 reference runs.</summary>
internal static class CpuTestData
{
    public static readonly CpuVectorWidth[] Widths = [CpuVectorWidth.Bits512, CpuVectorWidth.Bits256, CpuVectorWidth.Bits128];

    /// <summary>
    /// The paper's initialisation scaled by 2.5, so that every squashing works away from its linear part and the
    /// test sees the nonlinearity. Masked C3 weights stay zero. The convolution squashing does not change the draw.
    /// </summary>
    public static LeNetModel Model(int seed, Squashing squashing, ConvolutionSquashing convolutions = ConvolutionSquashing.Linear)
    {
        var model = LeNetModel.CreateRandom(seed, squashing, convolutions: convolutions);
        for (int i = 0; i < model.Parameters.Length; i++) model.Parameters[i] *= 2.5f;
        return model;
    }

    /// <summary>Images [count][1024] uniform in the input range [−0.1, 1.175].</summary>
    public static float[] Images(int count, int seed)
    {
        var random = new Random(seed);
        var images = new float[count * 1024];
        for (int i = 0; i < images.Length; i++) images[i] = (float)(random.NextDouble() * 1.275 - 0.1);
        return images;
    }

    public static int[] Labels(int count, int seed)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, count).Select(_ => random.Next(10)).ToArray();
    }

    /// <summary>Images [count][1024] as the float64 reference's inputs, one 32×32 field each.</summary>
    public static double[][] Inputs(float[] images, int count) =>
        Enumerable.Range(0, count).Select(n => images.AsSpan(n * 1024, 1024).ToArray().Select(v => (double)v).ToArray()).ToArray();

    /// <summary>A layer's outputs for all images, image-major, as the engine's accessors give them.</summary>
    public static double[] Layer(ReferenceActivations[] images, Gpu.Model.Layer layer) => images.SelectMany(m => layer switch
    {
        Gpu.Model.Layer.Input => m.Input,
        Gpu.Model.Layer.C1 => m.C1,
        Gpu.Model.Layer.S2 => m.S2,
        Gpu.Model.Layer.C3 => m.C3,
        Gpu.Model.Layer.S4 => m.S4,
        Gpu.Model.Layer.C5 => m.C5,
        Gpu.Model.Layer.F6 => m.F6,
        _ => m.Logits,
    }).ToArray();

    /// <summary>
    /// A reference run per (model seed, squashing, batch, order, convolutions), shared by the tests of every width: the
    /// gradient of the batch-mean loss (or the second-order diagonal) and the summed loss Σ −log p[label], as the engine
    /// reports it.
    /// </summary>
    public sealed record ReferenceRun(LeNetModel Model, float[] Images, int[] Labels, ReferenceActivations[] Forward,
        double[] Gradients, double Loss);

    private static readonly ConcurrentDictionary<(int, Squashing, int, bool, ConvolutionSquashing), ReferenceRun> Runs = new();

    public static ReferenceRun Reference(int seed, Squashing squashing, int count, bool secondOrder,
        ConvolutionSquashing convolutions = ConvolutionSquashing.Linear) =>
        Runs.GetOrAdd((seed, squashing, count, secondOrder, convolutions), key =>
        {
            var model = Model(key.Item1, key.Item2, key.Item5);
            var images = Images(count, seed + 100);
            var labels = Labels(count, seed + 200);
            var reference = new ReferenceLeNet(model.Parameters, squashing) { Convolutions = key.Item5 };
            var inputs = Inputs(images, count);
            var forward = inputs.Select(reference.Forward).ToArray();
            var gradients = secondOrder ? reference.GaussNewtonDiagonal(inputs, labels, out double meanLoss)
                : reference.Gradient(inputs, labels, out meanLoss);
            double loss = meanLoss * count;
            return new ReferenceRun(model, images, labels, forward, gradients, loss);
        });
}
