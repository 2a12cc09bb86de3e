using BenchmarkDotNet.Attributes;
using LeNet.Gpu.Cpu;
using LeNet.Gpu.Model;
using P = LeNet.Gpu.Model.ParameterLayout;

namespace LeNet.Gpu.Bench;

/// <summary>
/// Batch inference with the CPU engine (<see cref="CpuNetwork.Forward"/>: float images in, probabilities and classes
/// out), by batch size and thread count, beside the same network as plain scalar loops (the baseline, parallel over
/// images). Buffers and the first call happen in setup. images/s = BatchSize / time per call.
/// </summary>
[MemoryDiagnoser(false)]
public class CpuEngineInferenceBenchmarks
{
    [Params(1, 64, 1024, 8192)]
    public int BatchSize { get; set; }

    [ParamsSource(nameof(ThreadCounts))]
    public int Threads { get; set; }

    public static IEnumerable<int> ThreadCounts() => new[] { 1, Environment.ProcessorCount }.Distinct();

    private CpuNetwork network = null!;
    private LeNetModel model = null!;
    private float[] images = null!;
    private float[] probabilities = null!;

    [GlobalSetup]
    public void Setup()
    {
        model = BenchModel.Load();
        images = BenchInputs.Images(BatchSize, 2);
        probabilities = new float[BatchSize * 10];
        network = new CpuNetwork(BatchSize, Threads);
        network.Forward(model.Parameters, model.Squashing, images, BatchSize);
        NaiveLeNet.Forward(model.Parameters, images, BatchSize, Threads, probabilities);
    }

    [Benchmark]
    public int Engine()
    {
        network.Forward(model.Parameters, model.Squashing, images, BatchSize);
        return network.Predictions[0];
    }

    [Benchmark(Baseline = true)]
    public float NaiveLoops()
    {
        NaiveLeNet.Forward(model.Parameters, images, BatchSize, Threads, probabilities);
        return probabilities[0];
    }
}

/// <summary>
/// One training step with the CPU engine: forward, backward (batch-mean gradients) and an SGD update with momentum,
/// on a fixed batch, by batch size and thread count. images/s = BatchSize / time per step.
/// </summary>
[MemoryDiagnoser(false)]
public class CpuEngineTrainingBenchmarks
{
    [Params(16, 64, 256)]
    public int BatchSize { get; set; }

    [ParamsSource(nameof(ThreadCounts))]
    public int Threads { get; set; }

    public static IEnumerable<int> ThreadCounts() => CpuEngineInferenceBenchmarks.ThreadCounts();

    private CpuNetwork network = null!;
    private LeNetModel model = null!;
    private float[] images = null!, gradients = null!, velocity = null!, trainable = null!;
    private int[] labels = null!;

    [GlobalSetup]
    public void Setup()
    {
        model = BenchModel.Load();
        images = BenchInputs.Images(BatchSize, 3);
        labels = Enumerable.Range(0, BatchSize).Select(i => i % 10).ToArray();
        gradients = new float[P.Length];
        velocity = new float[P.Length];
        trainable = P.TrainableMask();
        network = new CpuNetwork(BatchSize, Threads);
        sgd = BenchSgd.Blockwise(model.Parameters, gradients, velocity, trainable);
        TrainStep();
    }

    private Action<int, int> sgd = null!;

    [Benchmark]
    public double TrainStep()
    {
        network.Forward(model.Parameters, model.Squashing, images, BatchSize);
        network.Backward(model.Parameters, model.Squashing, labels, BatchSize, gradients, false, 0f, sgd, out double loss, out _);
        return loss;
    }
}

/// <summary>
/// The forward pass as plain scalar float loops, image-major, one image per iteration of a parallel loop: what
/// straightforward C# gives, to put the engine's numbers in context. Scaled-tanh squashing only.
/// </summary>
internal static class NaiveLeNet
{
    public static void Forward(float[] p, float[] images, int count, int threads, float[] probabilities)
    {
        var options = new ParallelOptions { MaxDegreeOfParallelism = threads };
        Parallel.For(0, count, options, n =>
        {
            var input = images.AsSpan(n * 1024, 1024);
            Span<float> c1 = stackalloc float[6 * 784], s2 = stackalloc float[6 * 196], c3 = stackalloc float[1600],
                s4 = stackalloc float[400], c5 = stackalloc float[120], f6 = stackalloc float[84], logits = stackalloc float[10];
            Convolve(p, input, 1, 32, c1, 6, P.C1Weight.Offset, P.C1Bias.Offset, (_, _) => true);
            Subsample(p, c1, 6, 14, P.S2Coefficient.Offset, P.S2Bias.Offset, s2);
            Convolve(p, s2, 6, 14, c3, 16, P.C3Weight.Offset, P.C3Bias.Offset, ConnectionTable.IsConnected);
            Subsample(p, c3, 16, 5, P.S4Coefficient.Offset, P.S4Bias.Offset, s4);
            Dense(p, s4, P.C5Weight.Offset, P.C5Bias.Offset, c5, true);
            Dense(p, c5, P.F6Weight.Offset, P.F6Bias.Offset, f6, true);
            Dense(p, f6, P.OutputWeight.Offset, P.OutputBias.Offset, logits, false);
            float max = float.MinValue, total = 0f;
            foreach (float l in logits) max = MathF.Max(max, l);
            for (int c = 0; c < 10; c++) total += probabilities[n * 10 + c] = MathF.Exp(logits[c] - max);
            for (int c = 0; c < 10; c++) probabilities[n * 10 + c] /= total;
        });
    }

    private static float F(float a) => 1.7159f * MathF.Tanh(2f / 3f * a);

    private static void Convolve(float[] p, ReadOnlySpan<float> input, int inMaps, int inSize, Span<float> output, int outMaps,
        int weight, int bias, Func<int, int, bool> connected)
    {
        int outSize = inSize - 4;
        for (int o = 0; o < outMaps; o++)
            for (int y = 0; y < outSize; y++)
                for (int x = 0; x < outSize; x++)
                {
                    float sum = p[bias + o];
                    for (int i = 0; i < inMaps; i++)
                        if (connected(o, i))
                            for (int ky = 0; ky < 5; ky++)
                                for (int kx = 0; kx < 5; kx++)
                                    sum += p[weight + ((o * inMaps + i) * 5 + ky) * 5 + kx] * input[(i * inSize + y + ky) * inSize + x + kx];
                    output[(o * outSize + y) * outSize + x] = sum;
                }
    }

    private static void Subsample(float[] p, ReadOnlySpan<float> input, int maps, int size, int coefficient, int bias, Span<float> output)
    {
        int inSize = 2 * size;
        for (int m = 0; m < maps; m++)
            for (int y = 0; y < size; y++)
                for (int x = 0; x < size; x++)
                {
                    int at = (m * inSize + 2 * y) * inSize + 2 * x;
                    float sum = input[at] + input[at + 1] + input[at + inSize] + input[at + inSize + 1];
                    output[(m * size + y) * size + x] = F(p[coefficient + m] * sum + p[bias + m]);
                }
    }

    private static void Dense(float[] p, ReadOnlySpan<float> input, int weight, int bias, Span<float> output, bool squash)
    {
        for (int o = 0; o < output.Length; o++)
        {
            float sum = p[bias + o];
            for (int j = 0; j < input.Length; j++) sum += p[weight + o * input.Length + j] * input[j];
            output[o] = squash ? F(sum) : sum;
        }
    }
}
