using System.Collections.Concurrent;
using LeNet.Gpu.Cpu;
using LeNet.Gpu.Model;
using LeNet.Gpu.Engine;
using LeNet.Gpu.Ilgpu;
using LeNet.Gpu.Tests.Reference;
using LeNet.Gpu.Tests.Support;
using Xunit;
using P = LeNet.Gpu.Model.ParameterLayout;

namespace LeNet.Gpu.Tests.Cpu;

/// <summary>
/// The CPU engine with C1 and C3 squashed (<see cref="ConvolutionSquashing.Squashed"/>, the paper's network) against
/// the float64 reference run the same way: every layer forward, every slice backward in both orders, at every vector
/// width, both squashings, batches of 1, 3, 17 and 40 (at 16 lanes: one image alone, a partial tile run image by image,
/// a full tile and one left over, two full tiles and a partial one), for the softmax and the RBF output; then the
/// inference engine and the training backend, which must take the choice from the model. The bounds are those of
/// <see cref="CpuNetworkTests"/> (normwise, 1e-5 forward, 1e-4 backward), but each gradient slice is measured against
/// its own largest entry (no 1e-3 floor: the second-order diagonal of the lower layers is as small as 1e-12 under the
/// sigmoid, and a floor would wave it through; measured, the engine is within 4e-6 of every slice). Each check also
/// runs the engine with linear convolutions on the same weights and requires it to miss the squashed reference by
/// more than 100 times the bound where the flag acts (C1 to S4 forward; C1's and C3's slices backward), so an engine
/// that ignored the flag fails. (Linear convolutions, the default, are what <see cref="CpuNetworkTests"/> checks.)
/// </summary>
public class CpuSquashedConvolutionTests
{
    private const double ForwardTolerance = 1e-5, GradientTolerance = 1e-4;

    /// <summary>The normwise error's floor for a gradient slice: in effect none, each slice against its own maximum.</summary>
    private const double SliceFloor = 1e-30;

    /// <summary>How far the linear engine must miss the squashed reference, in tolerances.</summary>
    private const double Apart = 100;

    private const ConvolutionSquashing Squashed = ConvolutionSquashing.Squashed, Linear = ConvolutionSquashing.Linear;

    private static readonly Layer[] SquashedAndAbove = [Layer.C1, Layer.S2, Layer.C3, Layer.S4, Layer.C5, Layer.F6, Layer.Output];

    /// <summary>Where the flag acts: the squashed layers and the subsampling after each (above, the paper's initialisation
    /// fades the difference to as little as 1e-3 at the output under the sigmoid).</summary>
    private static readonly Layer[] FlagLayers = [Layer.C1, Layer.S2, Layer.C3, Layer.S4];

    /// <summary>The slices whose gradients go through f' of a squashed convolution first.</summary>
    private static readonly ParameterSlice[] FlagSlices = [P.C1Weight, P.C1Bias, P.C3Weight, P.C3Bias];

    public static TheoryData<CpuVectorWidth, Squashing, int> Cases()
    {
        var data = new TheoryData<CpuVectorWidth, Squashing, int>();
        foreach (var width in CpuTestData.Widths)
            foreach (var squashing in new[] { Squashing.ScaledTanh, Squashing.Sigmoid })
                foreach (int count in new[] { 1, 3, 17, 40 })
                    data.Add(width, squashing, count);
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Squashed_forward_matches_the_reference_in_every_layer(CpuVectorWidth width, Squashing squashing, int count)
    {
        var run = CpuTestData.Reference(1, squashing, count, secondOrder: false, Squashed);
        Assert.Equal(Squashed, run.Model.Convolutions);
        var net = new CpuNetwork(count, threads: 2, width);
        net.Forward(run.Model.Parameters, squashing, run.Images, count, OutputLayer.Softmax, Squashed);

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

        // The same weights with linear convolutions: C1 to S4 are far from the squashed reference.
        var linear = new CpuNetwork(count, threads: 2, width);
        linear.Forward(run.Model.Parameters, squashing, run.Images, count);
        foreach (var layer in FlagLayers)
        {
            double error = Tolerance.NormwiseError(linear.Activations(layer), CpuTestData.Layer(run.Forward, layer));
            Assert.True(error > Apart * ForwardTolerance, $"{layer}: linear convolutions only {error:E2} from the squashed reference");
        }
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Squashed_gradients_match_the_reference_in_every_slice(CpuVectorWidth width, Squashing squashing, int count) =>
        CheckGradients(width, squashing, count, secondOrder: false);

    [Theory]
    [MemberData(nameof(Cases))]
    public void Squashed_second_order_diagonal_matches_the_reference_in_every_slice(CpuVectorWidth width, Squashing squashing, int count) =>
        CheckGradients(width, squashing, count, secondOrder: true);

    private static void CheckGradients(CpuVectorWidth width, Squashing squashing, int count, bool secondOrder)
    {
        var run = CpuTestData.Reference(1, squashing, count, secondOrder, Squashed);
        var net = new CpuNetwork(count, threads: 2, width);
        net.Forward(run.Model.Parameters, squashing, run.Images, count, OutputLayer.Softmax, Squashed);
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
        var trainable = P.TrainableMask();
        for (int i = 0; i < P.Length; i++)
            if (trainable[i] == 0f)
                Assert.True(BitConverter.SingleToInt32Bits(gradients[i]) == 0, $"masked gradient {i} is {gradients[i]}, not +0");

        // Linear convolutions on the same weights and images: C1's and C3's slices are far from the squashed reference.
        var linear = new CpuNetwork(count, threads: 2, width);
        linear.Forward(run.Model.Parameters, squashing, run.Images, count);
        var linearGradients = new float[P.Length];
        linear.Backward(run.Model.Parameters, squashing, run.Labels, count, linearGradients, secondOrder, out _, out _);
        foreach (var slice in FlagSlices)
        {
            double error = Tolerance.NormwiseError(linearGradients.AsSpan(slice.Offset, slice.Length), run.Gradients.AsSpan(slice.Offset, slice.Length), SliceFloor);
            Assert.True(error > Apart * GradientTolerance, $"{slice.Name}: linear convolutions only {error:E2} from the squashed reference");
        }
    }

    // ---------------------------------------------------------------- RBF output

    /// <summary>An RBF model (±1 centres, paper initialisation) and inputs in [−1, 2], as <c>RbfOutputTests</c> uses.</summary>
    private sealed record RbfRun(LeNetModel Model, float[] Images, int[] Labels, ReferenceActivations[] Forward,
        double[] Gradients, double[] Diagonal, double Loss);

    private const float MapJ = 3f;

    private static readonly ConcurrentDictionary<(Squashing, int), RbfRun> RbfRuns = new();

    private static RbfRun Rbf(Squashing squashing, int count) => RbfRuns.GetOrAdd((squashing, count), key =>
    {
        var model = LeNetModel.CreateRandom(7, squashing, output: OutputLayer.Rbf, convolutions: Squashed);
        var random = new Random(count);
        var inputs = Enumerable.Range(0, count).Select(_ => Enumerable.Range(0, 1024).Select(_ => (double)(float)(3 * random.NextDouble() - 1)).ToArray()).ToArray();
        var labels = Enumerable.Range(0, count).Select(n => (n * 7) % 10).ToArray();
        var reference = new ReferenceLeNet(model) { MapJ = MapJ };
        Assert.Equal(Squashed, reference.Convolutions);
        var gradients = reference.Gradient(inputs, labels, out double loss);
        var diagonal = reference.GaussNewtonDiagonal(inputs, labels, out _);
        return new RbfRun(model, inputs.SelectMany(x => x.Select(v => (float)v)).ToArray(), labels,
            inputs.Select(reference.Forward).ToArray(), gradients, diagonal, loss);
    });

    public static TheoryData<Squashing, int> RbfCases()
    {
        var data = new TheoryData<Squashing, int>();
        foreach (var squashing in new[] { Squashing.ScaledTanh, Squashing.Sigmoid })
            foreach (int count in new[] { 1, 3, 17, 40 })
                data.Add(squashing, count);
        return data;
    }

    [Theory]
    [MemberData(nameof(RbfCases))]
    public void Rbf_output_with_squashed_convolutions_matches_the_reference_forward_and_both_orders(Squashing squashing, int count)
    {
        var run = Rbf(squashing, count);
        var network = new CpuNetwork(count, threads: 2);
        network.Forward(run.Model.Parameters, squashing, run.Images, count, OutputLayer.Rbf, Squashed);
        foreach (var layer in SquashedAndAbove)
            Tolerance.AssertClose(layer.ToString(), network.Activations(layer), CpuTestData.Layer(run.Forward, layer));
        Tolerance.AssertClose("probabilities", network.Probabilities, run.Forward.SelectMany(f => f.Probabilities).ToArray());
        Tolerance.AssertClasses("classes", network.Predictions.ToArray(), run.Forward.Select(f => f.Logits).ToList());

        var trained = P.Slices.Where(s => s != P.OutputWeight && s != P.OutputBias).ToList();
        foreach (bool secondOrder in new[] { false, true })
        {
            var expected = secondOrder ? run.Diagonal : run.Gradients;
            var gradient = new float[P.Length];
            network.Backward(run.Model.Parameters, squashing, run.Labels, count, gradient, secondOrder, MapJ, out double lossSum, out _);
            Assert.Equal(run.Loss, lossSum / count, 4);
            foreach (var slice in trained)
                Tolerance.AssertClose($"{(secondOrder ? "second" : "first")} order {slice.Name}",
                    gradient.AsSpan(slice.Offset, slice.Length), expected.AsSpan(slice.Offset, slice.Length), GradientTolerance, SliceFloor);
            Assert.All(gradient.AsSpan(P.OutputWeight.Offset, 850).ToArray(), g => Assert.Equal(0f, g));
        }

        // The same model run with linear convolutions is far from the squashed reference, forward and backward.
        var linear = new CpuNetwork(count, threads: 2);
        linear.Forward(run.Model.Parameters, squashing, run.Images, count, OutputLayer.Rbf);
        foreach (var layer in FlagLayers)
        {
            double error = Tolerance.NormwiseError(linear.Activations(layer), CpuTestData.Layer(run.Forward, layer));
            Assert.True(error > Apart * ForwardTolerance, $"{layer}: linear convolutions only {error:E2} from the squashed reference");
        }
        var linearGradient = new float[P.Length];
        linear.Backward(run.Model.Parameters, squashing, run.Labels, count, linearGradient, false, MapJ, out _, out _);
        foreach (var slice in FlagSlices)
        {
            double error = Tolerance.NormwiseError(linearGradient.AsSpan(slice.Offset, slice.Length), run.Gradients.AsSpan(slice.Offset, slice.Length), SliceFloor);
            Assert.True(error > Apart * GradientTolerance, $"{slice.Name}: linear convolutions only {error:E2} from the squashed reference");
        }
    }

    // ---------------------------------------------------------------- determinism, and the callers of the engine

    [Theory]
    [InlineData(CpuVectorWidth.Bits256, 37)]
    [InlineData(CpuVectorWidth.Bits128, 37)]
    public void Squashed_gradients_are_bitwise_identical_across_runs_and_thread_counts(CpuVectorWidth width, int count)
    {
        var model = CpuTestData.Model(5, Squashing.ScaledTanh, Squashed);
        var images = CpuTestData.Images(count, 6);
        var labels = CpuTestData.Labels(count, 7);
        float[]? first = null;
        foreach (int threads in new[] { 1, 2, 3 })
        {
            var net = new CpuNetwork(count, threads, width);
            net.Forward(model.Parameters, model.Squashing, images, count, OutputLayer.Softmax, Squashed);
            var gradients = new float[P.Length];
            net.Backward(model.Parameters, model.Squashing, labels, count, gradients, true, out _, out _);
            if (first == null) first = gradients;
            else Assert.True(first.AsSpan().SequenceEqual(gradients), $"threads {threads} changed the gradient bits");
        }
    }

    [Fact]
    public void Inference_engine_takes_the_convolution_squashing_from_the_model()
    {
        // 21 images through a capacity of 16: a full batch and a partial one; floats and MNIST bytes.
        const int count = 21;
        var squashed = CpuTestData.Model(3, Squashing.ScaledTanh, Squashed);
        var linear = new LeNetModel(squashed.Squashing, (float[])squashed.Parameters.Clone());
        var random = new Random(21);
        var bytes = new byte[count * InputField.MnistLength];
        random.NextBytes(bytes);
        var images = new float[count * Architecture.InputLength];
        CpuNetwork.ConvertMnist(bytes, images);
        var inputs = CpuTestData.Inputs(images, count);
        double[] Expected(LeNetModel model) => inputs.SelectMany(x => new ReferenceLeNet(model).Forward(x).Probabilities).ToArray();
        var expectedSquashed = Expected(squashed);
        var expectedLinear = Expected(linear);
        Assert.True(Tolerance.NormwiseError(expectedLinear.Select(v => (float)v).ToArray(), expectedSquashed) > Apart * ForwardTolerance);

        using var engine = new CpuInferenceEngine(squashed, batchCapacity: 16, threads: 2);
        Tolerance.AssertClose("squashed, floats", engine.Predict(images).Probabilities, expectedSquashed);
        Tolerance.AssertClose("squashed, MNIST bytes", engine.PredictMnist(bytes).Probabilities, expectedSquashed);
        Tolerance.AssertClose("squashed, trace C1", engine.Trace(images.AsSpan(0, 3 * Architecture.InputLength)).Of(Layer.C1),
            inputs.Take(3).SelectMany(x => new ReferenceLeNet(squashed).Forward(x).C1).ToArray());

        // Load switches with the model, both ways.
        engine.Load(linear);
        Tolerance.AssertClose("linear after Load", engine.Predict(images).Probabilities, expectedLinear);
        engine.Load(squashed);
        Tolerance.AssertClose("squashed after Load", engine.PredictMnist(bytes).Probabilities, expectedSquashed);
    }

    [Fact]
    public void Training_backend_evaluates_a_squashed_model_as_the_reference()
    {
        // Unit-variance weights carry the signal to the output (the paper's fade it), so the choice shows in the loss.
        const int count = 21;
        var model = LeNetModel.CreateRandom(4, Squashing.ScaledTanh, WeightInitialization.UnitVariance, convolutions: Squashed);
        var images = CpuTestData.Images(count, 8);
        var labels = CpuTestData.Labels(count, 9);
        var inputs = CpuTestData.Inputs(images, count);
        var options = new TrainingOptions { BatchSize = 8 };
        Score Evaluate(LeNetModel m)
        {
            var backend = new CpuTrainingBackend(m, options, images, labels, count, threads: 2);
            backend.SetOrder(Enumerable.Range(0, count).ToArray(), 0);
            return backend.Evaluate(0, count);
        }

        var reference = new ReferenceLeNet(model);
        double expectedLoss = reference.Loss(inputs, labels);
        double expectedAccuracy = inputs.Select((x, n) => reference.Forward(x).Class == labels[n] ? 1.0 : 0.0).Average();
        var score = Evaluate(model);
        Assert.Equal(count, score.Images);
        Assert.Equal(expectedLoss, score.Loss, expectedLoss * 1e-5);
        Assert.Equal(expectedAccuracy, score.Accuracy);

        // The linear model with the same weights scores a loss more than 100 times the bound away (0.6 % here): the
        // backend did not drop the choice.
        double linearLoss = new ReferenceLeNet(model.Parameters, model.Squashing).Loss(inputs, labels);
        Assert.True(Math.Abs(linearLoss - expectedLoss) > Apart * 1e-5 * expectedLoss, $"losses {linearLoss} and {expectedLoss} too close to tell apart");
        Assert.Equal(linearLoss, Evaluate(new LeNetModel(model.Squashing, (float[])model.Parameters.Clone())).Loss, linearLoss * 1e-5);
    }
}
