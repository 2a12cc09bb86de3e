using LeNet.Gpu.Model;
using LeNet.Gpu.Engine;
using LeNet.Gpu.Ilgpu;
using LeNet.Gpu.Serialization;

namespace LeNet.Gpu.Bench;

/// <summary>
/// The weights every inference benchmark and peer runs: the shipped digits model, which is also what
/// pytorch/lenet5_bench.py loads by default, so each side of a comparison computes with the same weights. (No path's
/// time depends on the weights' values; the point is that the peers run the same model.)
/// </summary>
public static class BenchModel
{
    public static LeNetModel Load() => ShippedModels.Load(ShippedModels.Digits);
}

/// <summary>The inputs every benchmark runs: seeded, so each case of a class sees the same values.</summary>
public static class BenchInputs
{
    /// <summary>Float images [count][32·32], uniform in the paper's input range [−0.1, 1.175].</summary>
    public static float[] Images(long count, int seed)
    {
        var random = new Random(seed);
        var images = new float[count * Architecture.InputLength];
        for (long i = 0; i < images.Length; i++) images[i] = (float)InputField.FromInkFraction(random.NextDouble());
        return images;
    }

    /// <summary>Raw 28×28 byte images [count][784] (MNIST layout), uniform.</summary>
    public static byte[] Bytes(long count, int seed)
    {
        var bytes = new byte[count * InputField.MnistLength];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    /// <summary>Labels 0, 1, …, 9, 0, … for <paramref name="count"/> images.</summary>
    public static int[] Labels(int count) => Enumerable.Range(0, count).Select(i => i % 10).ToArray();
}

/// <summary>
/// The bench's training steps' optimizer: SGD (rate 0.01, momentum 0.9, no weight decay) block by block inside
/// <c>CpuNetwork.Backward</c>, as the trainer steps.
/// </summary>
internal static class BenchSgd
{
    public static Action<int, int> Blockwise(float[] parameters, float[] gradients, float[] velocity, float[] trainable) =>
        (from, to) => LeNet.Gpu.Cpu.CpuOptimizer.Sgd(0.01f, 0.9f, 0f, parameters.AsSpan(from, to - from), gradients.AsSpan(from, to - from),
            velocity.AsSpan(from, to - from), trainable.AsSpan(from, to - from));
}
