using LeNet.Gpu.Cpu;
using LeNet.Gpu.Model;
using LeNet.Gpu.Tests.Reference;
using LeNet.Gpu.Tests.Support;
using Xunit;
using P = LeNet.Gpu.Model.ParameterLayout;

namespace LeNet.Gpu.Tests.Cpu;

/// <summary>
/// The CPU engine against the float64 reference (<see cref="ReferenceLeNet"/>): every layer forward, every
/// parameter slice backward (both orders), at every vector width, both squashings and batches of 1, 7, 19 and 64
/// (at 16 lanes: one image alone, a partial tile run image by image, a full tile plus leftovers, full tiles).
/// Tolerances are normwise (<see cref="Tolerance.NormwiseError(ReadOnlySpan{float}, ReadOnlySpan{double})"/>):
/// 1e-5 for activations, 1e-4 for gradients (each slice against its own largest entry) — float32 arithmetic against float64.
/// </summary>
public class CpuNetworkTests
{
    private const double ForwardTolerance = 1e-5, GradientTolerance = 1e-4;

    /// <summary>
    /// The normwise error's floor for a gradient slice: in effect none, each slice against its own largest entry. The
    /// activations' 1e-3 floor would wave through whole slices (the sigmoid's second-order diagonal of C1 is ~1e-12).
    /// </summary>
    private const double SliceFloor = 1e-30;

    public static TheoryData<CpuVectorWidth, Squashing, int> Cases()
    {
        var data = new TheoryData<CpuVectorWidth, Squashing, int>();
        foreach (var width in CpuTestData.Widths)
            foreach (var squashing in new[] { Squashing.ScaledTanh, Squashing.Sigmoid })
                foreach (int count in new[] { 1, 7, 19, 64 })
                    data.Add(width, squashing, count);
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Forward_matches_the_reference_in_every_layer(CpuVectorWidth width, Squashing squashing, int count)
    {
        var run = CpuTestData.Reference(1, squashing, count, secondOrder: false);
        var net = new CpuNetwork(count, threads: 2, width);
        net.Forward(run.Model.Parameters, squashing, run.Images, count);

        foreach (var layer in Enum.GetValues<Layer>())
        {
            double error = Tolerance.NormwiseError(net.Activations(layer), CpuTestData.Layer(run.Forward, layer));
            Assert.True(error <= ForwardTolerance, $"{layer}: normwise error {error:E2}");
        }
        var probabilities = run.Forward.SelectMany(m => m.Probabilities).ToArray();
        Assert.True(Tolerance.NormwiseError(net.Probabilities, probabilities) <= ForwardTolerance);
        for (int n = 0; n < count; n++)
        {
            var p = run.Forward[n].Probabilities;
            var sorted = p.OrderDescending().ToArray();
            if (sorted[0] - sorted[1] > 1e-5) Assert.Equal(Array.IndexOf(p, sorted[0]), net.Predictions[n]);
        }
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Gradients_match_the_reference_in_every_slice(CpuVectorWidth width, Squashing squashing, int count) =>
        CheckGradients(width, squashing, count, secondOrder: false);

    [Theory]
    [MemberData(nameof(Cases))]
    public void Second_order_diagonal_matches_the_reference_in_every_slice(CpuVectorWidth width, Squashing squashing, int count) =>
        CheckGradients(width, squashing, count, secondOrder: true);

    private static void CheckGradients(CpuVectorWidth width, Squashing squashing, int count, bool secondOrder)
    {
        var run = CpuTestData.Reference(1, squashing, count, secondOrder);
        var net = new CpuNetwork(count, threads: 2, width);
        net.Forward(run.Model.Parameters, squashing, run.Images, count);
        var gradients = new float[P.Length];
        net.Backward(run.Model.Parameters, squashing, run.Labels, count, gradients, secondOrder, out double loss, out int correct);

        foreach (var slice in P.Slices)
        {
            double error = Tolerance.NormwiseError(gradients.AsSpan(slice.Offset, slice.Length), run.Gradients.AsSpan(slice.Offset, slice.Length), SliceFloor);
            Assert.True(error <= GradientTolerance, $"{slice.Name}: normwise error {error:E2}");
        }
        Assert.Equal(run.Loss, loss, run.Loss * 1e-5);
        int expectedCorrect = Enumerable.Range(0, count).Count(n => net.Predictions[n] == run.Labels[n]);
        Assert.Equal(expectedCorrect, correct);
        AssertMaskedGradientsZero(gradients);
    }

    private static void AssertMaskedGradientsZero(float[] gradients)
    {
        var trainable = P.TrainableMask();
        for (int i = 0; i < P.Length; i++)
            if (trainable[i] == 0f)
                Assert.True(BitConverter.SingleToInt32Bits(gradients[i]) == 0, $"masked gradient {i} is {gradients[i]}, not +0");
    }

    [Theory]
    [InlineData(CpuVectorWidth.Bits512)]
    [InlineData(CpuVectorWidth.Bits128)]
    public void Masked_C3_weights_are_ignored_forward_and_get_exactly_zero_gradients(CpuVectorWidth width)
    {
        var run = CpuTestData.Reference(2, Squashing.ScaledTanh, 7, secondOrder: false);
        var polluted = (float[])run.Model.Parameters.Clone();
        var trainable = P.TrainableMask();
        for (int i = 0; i < P.Length; i++)
            if (trainable[i] == 0f) polluted[i] = 100f + i;

        var clean = new CpuNetwork(7, 2, width);
        clean.Forward(run.Model.Parameters, Squashing.ScaledTanh, run.Images, 7);
        var dirty = new CpuNetwork(7, 2, width);
        dirty.Forward(polluted, Squashing.ScaledTanh, run.Images, 7);
        foreach (var layer in Enum.GetValues<Layer>())
            Assert.Equal(clean.Activations(layer), dirty.Activations(layer));

        foreach (bool secondOrder in new[] { false, true })
        {
            var expected = new float[P.Length];
            clean.Backward(run.Model.Parameters, Squashing.ScaledTanh, run.Labels, 7, expected, secondOrder, out _, out _);
            var gradients = new float[P.Length];
            dirty.Backward(polluted, Squashing.ScaledTanh, run.Labels, 7, gradients, secondOrder, out _, out _);
            AssertMaskedGradientsZero(gradients);
            Assert.Equal(expected, gradients);
        }
    }

    [Theory]
    [InlineData(Squashing.ScaledTanh)]
    [InlineData(Squashing.Sigmoid)]
    public void Gradients_agree_with_finite_differences_of_the_loss(Squashing squashing)
    {
        const int count = 5;
        var run = CpuTestData.Reference(3, squashing, count, secondOrder: false);
        var net = new CpuNetwork(count, 1);
        net.Forward(run.Model.Parameters, squashing, run.Images, count);
        var gradients = new float[P.Length];
        net.Backward(run.Model.Parameters, squashing, run.Labels, count, gradients, false, out _, out _);

        var random = new Random(4);
        var trainable = P.TrainableMask();
        foreach (var slice in P.Slices)
        {
            double scale = Enumerable.Range(slice.Offset, slice.Length).Max(i => Math.Abs(gradients[i]));
            for (int sample = 0; sample < 3; sample++)
            {
                int i;
                do i = slice.Offset + random.Next(slice.Length); while (trainable[i] == 0f);
                double numeric = CentralDifference(run, squashing, count, i);
                Assert.True(Math.Abs(numeric - run.Gradients[i]) <= 1e-6 * Math.Max(scale, 1e-3),
                    $"{slice.Name}[{i - slice.Offset}]: reference {run.Gradients[i]:E4}, finite difference {numeric:E4}");
                Assert.True(Math.Abs(numeric - gradients[i]) <= 1e-4 * Math.Max(scale, 1e-3),
                    $"{slice.Name}[{i - slice.Offset}]: engine {gradients[i]:E4}, finite difference {numeric:E4}");
            }
        }
    }

    /// <summary>(L(w + h) − L(w − h)) / 2h of the batch-mean loss in float64, the parameter moved in double.</summary>
    private static double CentralDifference(CpuTestData.ReferenceRun run, Squashing squashing, int count, int index)
    {
        const double h = 1e-5;
        double Loss(double delta)
        {
            var parameters = run.Model.Parameters.Select(v => (double)v).ToArray();
            parameters[index] += delta;
            return new ReferenceLeNet(parameters, squashing).Loss(CpuTestData.Inputs(run.Images, count), run.Labels);
        }
        return (Loss(h) - Loss(-h)) / (2 * h);
    }

    [Theory]
    [InlineData(CpuVectorWidth.Bits512, 100)]
    [InlineData(CpuVectorWidth.Bits256, 100)]
    [InlineData(CpuVectorWidth.Bits128, 1000)]
    public void Gradients_are_bitwise_identical_across_runs_and_thread_counts(CpuVectorWidth width, int count)
    {
        var model = CpuTestData.Model(5, Squashing.ScaledTanh);
        var images = CpuTestData.Images(count, 6);
        var labels = CpuTestData.Labels(count, 7);
        float[]? first = null;
        foreach (int threads in new[] { 1, 2, 3, 2 })
        {
            var net = new CpuNetwork(count, threads, width);
            net.Forward(model.Parameters, model.Squashing, images, count);
            var gradients = new float[P.Length];
            net.Backward(model.Parameters, model.Squashing, labels, count, gradients, false, out _, out _);
            if (first == null) first = gradients;
            else Assert.True(first.AsSpan().SequenceEqual(gradients), $"threads {threads} changed the gradient bits");
        }
    }

    [Fact]
    public void A_batch_of_many_chunks_matches_the_reference()
    {
        // 4 lanes, 50 tiles: chunks of two tiles, so chunk sums over several tiles are exercised.
        var run = CpuTestData.Reference(8, Squashing.ScaledTanh, 200, secondOrder: false);
        var net = new CpuNetwork(256, 2, CpuVectorWidth.Bits128);
        net.Forward(run.Model.Parameters, Squashing.ScaledTanh, run.Images, 200);
        var gradients = new float[P.Length];
        net.Backward(run.Model.Parameters, Squashing.ScaledTanh, run.Labels, 200, gradients, false, out double loss, out _);
        foreach (var slice in P.Slices)
            Assert.True(Tolerance.NormwiseError(gradients.AsSpan(slice.Offset, slice.Length), run.Gradients.AsSpan(slice.Offset, slice.Length), SliceFloor) <= GradientTolerance, slice.Name);
        Assert.Equal(run.Loss, loss, run.Loss * 1e-5);
    }

    [Theory]
    [InlineData(3)]   // one by one
    [InlineData(40)]  // full tiles and a partial one
    public void Mnist_bytes_are_prepared_as_the_paper_does(int count)
    {
        var random = new Random(9);
        var bytes = new byte[count * 784];
        random.NextBytes(bytes);
        var images = new float[count * 1024];
        CpuNetwork.ConvertMnist(bytes, images);
        Assert.Equal(-0.1f, images[0]);
        Assert.Equal(-0.1f + 1.275f / 255f * bytes[0], images[2 * 32 + 2]);
        Assert.Equal(-0.1f + 1.275f / 255f * bytes[784 + 27 * 28 + 27], images[1024 + 29 * 32 + 29]);
        Assert.Equal(-0.1f, images[1024 + 31 * 32 + 30]);

        var model = CpuTestData.Model(10, Squashing.ScaledTanh);
        var fromBytes = new CpuNetwork(count);
        fromBytes.ForwardMnist(model.Parameters, model.Squashing, bytes, count);
        var fromFloats = new CpuNetwork(count);
        fromFloats.Forward(model.Parameters, model.Squashing, images, count);
        Assert.Equal(fromFloats.Activations(Layer.Input), fromBytes.Activations(Layer.Input));
        Assert.True(fromFloats.Probabilities.SequenceEqual(fromBytes.Probabilities));
    }

    [Fact]
    public void Smaller_batches_reuse_the_buffers_of_a_larger_one()
    {
        var big = CpuTestData.Reference(1, Squashing.Sigmoid, 64, secondOrder: false);
        var small = CpuTestData.Reference(1, Squashing.Sigmoid, 7, secondOrder: false);
        var net = new CpuNetwork(64, 2);
        var gradients = new float[P.Length];
        net.Forward(big.Model.Parameters, Squashing.Sigmoid, big.Images, 64);
        net.Backward(big.Model.Parameters, Squashing.Sigmoid, big.Labels, 64, gradients, false, out _, out _);
        net.Forward(small.Model.Parameters, Squashing.Sigmoid, small.Images, 7);
        Assert.Equal(7, net.Count);
        Assert.Equal(70, net.Probabilities.Length);
        net.Backward(small.Model.Parameters, Squashing.Sigmoid, small.Labels, 7, gradients, false, out _, out _);
        foreach (var slice in P.Slices)
            Assert.True(Tolerance.NormwiseError(gradients.AsSpan(slice.Offset, slice.Length), small.Gradients.AsSpan(slice.Offset, slice.Length), SliceFloor) <= GradientTolerance, slice.Name);
    }

    [Fact]
    public void Arguments_are_checked()
    {
        var model = CpuTestData.Model(1, Squashing.ScaledTanh);
        var net = new CpuNetwork(4, 1);
        var images = new float[4 * 1024];
        var gradients = new float[P.Length];
        Assert.Throws<ArgumentOutOfRangeException>(() => new CpuNetwork(0));
        Assert.Throws<InvalidOperationException>(() => net.Backward(model.Parameters, model.Squashing, new int[4], 4, gradients, false, out _, out _));
        Assert.Throws<ArgumentOutOfRangeException>(() => net.Forward(model.Parameters, model.Squashing, images, 5));
        Assert.Throws<ArgumentException>(() => net.Forward(model.Parameters, model.Squashing, images.AsSpan(0, 1000), 1));
        Assert.Throws<ArgumentException>(() => net.Forward(new float[10], model.Squashing, images, 1));
        net.Forward(model.Parameters, model.Squashing, images, 2);
        Assert.Throws<ArgumentOutOfRangeException>(() => net.Backward(model.Parameters, model.Squashing, new int[4], 3, gradients, false, out _, out _));
        Assert.Throws<ArgumentException>(() => net.Backward(model.Parameters, model.Squashing, [0, 10], 2, gradients, false, out _, out _));
        Assert.Throws<ArgumentException>(() => net.Backward(model.Parameters, Squashing.Sigmoid, [0, 1], 2, gradients, false, out _, out _));
    }
}
