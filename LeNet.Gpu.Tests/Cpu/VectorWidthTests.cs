using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using LeNet.Gpu.Cpu;
using LeNet.Gpu.Model;
using LeNet.Gpu.Engine;
using LeNet.Gpu.Ilgpu;
using LeNet.Gpu.Tests.Training;
using Xunit;

namespace LeNet.Gpu.Tests.Cpu;

/// <summary>
/// The CPU engine trains the same weights at every vector width: every sum across images or lanes runs in one order,
/// 16 lanes added pairwise (<see cref="CanonicalSum"/>). All three widths run here whatever the hardware (.NET runs
/// 512-bit code in software where AVX-512 is absent), and their bytes are compared: weights and optimizer state after a
/// few steps of each optimizer at batch sizes 1, 7, 32 and 64, the paper's recipe with its Hessian estimate, and the
/// probabilities of a forward pass.
/// </summary>
public class VectorWidthTests
{
    private static readonly CpuVectorWidth[] Widths = [CpuVectorWidth.Bits512, CpuVectorWidth.Bits256, CpuVectorWidth.Bits128];

    [Theory]
    [InlineData(OptimizerKind.Sgd, 1)]
    [InlineData(OptimizerKind.Sgd, 7)]
    [InlineData(OptimizerKind.Sgd, 32)]
    [InlineData(OptimizerKind.Sgd, 64)]
    [InlineData(OptimizerKind.Adam, 7)]
    [InlineData(OptimizerKind.Adam, 64)]
    [InlineData(OptimizerKind.Sdlm, 1)]
    [InlineData(OptimizerKind.Sdlm, 32)]
    public void Training_steps_give_the_same_bytes_at_every_width(OptimizerKind optimizer, int batch)
    {
        var options = new TrainingOptions { BatchSize = batch, Optimizer = optimizer, SdlmSamples = 37, WeightDecay = 0.0005f };
        var model = LeNetModel.CreateRandom(31, Squashing.ScaledTanh, WeightInitialization.UnitVariance, OutputLayer.Softmax);
        AssertSameAtEveryWidth(model, options, steps: 3, n: 3 * batch + 40);
    }

    /// <summary>The paper's recipe: RBF output and MAP loss, C1 and C3 squashed, SDLM per pattern with a Hessian
    /// estimate over 300 samples (19 groups of 16: chunks of two groups, the last group partial).</summary>
    [Fact]
    public void The_recipe_with_its_Hessian_estimate_gives_the_same_bytes_at_every_width()
    {
        var options = new TrainingOptions
        {
            BatchSize = 1, Optimizer = OptimizerKind.Sdlm, SdlmMu = 0.2f, SdlmMuFollowsRate = true, SdlmSamples = 300,
            LearningRate = 0.0005f, Initialization = WeightInitialization.Paper,
        };
        var model = LeNetModel.CreateRandom(32, Squashing.ScaledTanh, WeightInitialization.Paper, OutputLayer.Rbf,
            convolutions: ConvolutionSquashing.Squashed);
        AssertSameAtEveryWidth(model, options, steps: 5, n: 320);
    }

    private static void AssertSameAtEveryWidth(LeNetModel model, TrainingOptions options, int steps, int n)
    {
        var (images, labels) = TrainerTests.Synthetic(n, seed: 33);
        (float[] Weights, float[][] State) Train(CpuVectorWidth width)
        {
            // The step width follows the engine's here (batch 1 included), so each width runs every kind of sum.
            var backend = new CpuTrainingBackend(model, options, images, labels, n, threads: 2, stepWidth: width, vectorWidth: width);
            backend.SetOrder(Enumerable.Range(0, n).ToArray(), 0);
            for (int s = 0; s < steps; s++)
            {
                if (options.Optimizer == OptimizerKind.Sdlm && s % 2 == 0) backend.EstimateHessian(s, options.SdlmSamples);
                backend.TrainBatch(0, s * options.BatchSize, options.BatchSize, options.BaseLearningRate, s);
            }
            return (backend.Parameters(), backend.OptimizerState().OrderBy(p => p.Key).Select(p => p.Value).ToArray());
        }
        var wide = Train(Widths[0]);
        Assert.False(Bytes(model.Parameters).SequenceEqual(Bytes(wide.Weights)), "it did not train");
        foreach (var width in Widths[1..])
        {
            var other = Train(width);
            Assert.True(Bytes(wide.Weights).SequenceEqual(Bytes(other.Weights)),
                $"{(int)width}-bit tiles trained other weights than 512-bit ones ({Differing(wide.Weights, other.Weights)} differ)");
            for (int k = 0; k < wide.State.Length; k++)
                Assert.True(Bytes(wide.State[k]).SequenceEqual(Bytes(other.State[k])), $"{(int)width}-bit optimizer state {k} differs");
        }
    }

    /// <summary>
    /// A forward pass gives the same probabilities at every width, for images in full tiles (48: 3, 6 or 12 tiles) and
    /// for a few that run one by one at every width (3), whose dense layers sum across lanes. (Which leftover images run
    /// alone depends on the width — at most 9, 5 or 3 — and one alone may differ from one in a tile in the last bit.)
    /// </summary>
    [Theory]
    [InlineData(3)]
    [InlineData(48)]
    public void Forward_probabilities_are_the_same_bytes_at_every_width(int count)
    {
        var (images, _) = TrainerTests.Synthetic(count, seed: 34);
        var model = LeNetModel.CreateRandom(35, Squashing.ScaledTanh, WeightInitialization.UnitVariance, OutputLayer.Softmax);
        float[] Probabilities(CpuVectorWidth width)
        {
            var network = new CpuNetwork(count, threads: 2, width);
            network.Forward(model.Parameters, model.Squashing, images, count);
            return network.Probabilities.ToArray();
        }
        var wide = Probabilities(Widths[0]);
        foreach (var width in Widths[1..])
            Assert.True(Bytes(wide).SequenceEqual(Bytes(Probabilities(width))), $"{(int)width}-bit probabilities differ from 512-bit ones");
    }

    /// <summary>
    /// The lane sum of each width is the pairwise one, ((x0+x1)+(x2+x3)) and halves last, and 16 lanes held in 1, 2 or 4
    /// vectors add up alike: checked on values where another grouping rounds differently.
    /// </summary>
    [Fact]
    public unsafe void Lane_sums_are_pairwise_at_every_width()
    {
        var random = new Random(36);
        for (int trial = 0; trial < 200; trial++)
        {
            var x = new float[16];
            for (int i = 0; i < 16; i++) x[i] = (float)(random.NextDouble() - 0.5) * MathF.Pow(2, random.Next(-12, 24));
            float Pairwise(int from, int length) =>
                length == 1 ? x[from] : Pairwise(from, length / 2) + Pairwise(from + length / 2, length / 2);
            fixed (float* p = x)
            {
                Assert.Equal(Pairwise(0, 4), Simd128.Sum(Vector128.Load(p)));
                Assert.Equal(Pairwise(0, 8), Simd256.Sum(Vector256.Load(p)));
                Assert.Equal(Pairwise(0, 16), Simd512.Sum(Vector512.Load(p)));
                float expected = Pairwise(0, 16);
                Assert.Equal(expected, CanonicalSum.Of<Simd512, Vector512<float>>(p, 16));
                Assert.Equal(expected, CanonicalSum.Of<Simd256, Vector256<float>>(p, 8));
                Assert.Equal(expected, CanonicalSum.Of<Simd128, Vector128<float>>(p, 4));
            }
        }
    }

    /// <summary>LENET_CPU_VECTOR_BITS's values (parsed here: setting the variable would reach the tests running beside).</summary>
    [Fact]
    public void The_environment_variable_names_a_width_or_is_refused()
    {
        foreach (var width in Widths) Assert.Equal(width, SimdWidth.Forced($" {(int)width}\n"));
        Assert.Null(SimdWidth.Forced(null));
        Assert.Null(SimdWidth.Forced(" "));
        foreach (var text in new[] { "1024", "256 bits", "0x100", "auto" })
            Assert.Contains($"LENET_CPU_VECTOR_BITS={text}: expected 128, 256 or 512", Assert.Throws<ArgumentException>(() => SimdWidth.Forced(text)).Message);
    }

    private static ReadOnlySpan<byte> Bytes(float[] values) => MemoryMarshal.AsBytes(values.AsSpan());

    private static int Differing(float[] a, float[] b) =>
        Enumerable.Range(0, a.Length).Count(i => BitConverter.SingleToInt32Bits(a[i]) != BitConverter.SingleToInt32Bits(b[i]));
}
