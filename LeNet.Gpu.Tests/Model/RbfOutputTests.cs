using LeNet.Gpu.Cpu;
using LeNet.Gpu.Model;
using LeNet.Gpu.Serialization;
using LeNet.Gpu.Tests.Reference;
using LeNet.Gpu.Tests.Support;
using Xunit;

namespace LeNet.Gpu.Tests.Model;

/// <summary>
/// The paper's RBF output layer and MAP loss: its codes, its place in the model file and the summary, the float64
/// reference checked by finite differences, and the CPU engine checked against the reference.
/// </summary>
public sealed class RbfOutputTests
{
    private static List<double[]> Inputs(int count, int seed)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, count).Select(_ => Enumerable.Range(0, 1024).Select(_ => 3 * random.NextDouble() - 1).ToArray()).ToList();
    }

    [Fact]
    public void Codes_are_ten_distinct_plus_minus_one_bitmaps_of_7_by_12()
    {
        var codes = RbfCodes.Create();
        Assert.Equal(10 * 84, codes.Length);
        Assert.All(codes, c => Assert.True(c is 1f or -1f));
        // Every pair of digits differs in at least 6 of the 84 pixels (6 and 8, which look alike, are the closest), so no
        // two centres coincide.
        for (int a = 0; a < 10; a++)
            for (int b = a + 1; b < 10; b++)
            {
                int differ = Enumerable.Range(0, 84).Count(j => codes[a * 84 + j] != codes[b * 84 + j]);
                Assert.True(differ >= 6, $"codes of {a} and {b} differ in only {differ} pixels");
            }
        // The border row above and below every digit is background, as in the paper's Fig. 3.
        for (int digit = 0; digit < 10; digit++)
            for (int x = 0; x < 7; x++)
                Assert.False(RbfCodes.IsInk(digit, 0, x) || RbfCodes.IsInk(digit, 11, x));
    }

    [Fact]
    public void Summary_shows_840_rbf_connections_and_the_papers_total()
    {
        var lines = Architecture.Summary(Squashing.ScaledTanh, OutputLayer.Rbf).Split('\n').Select(l => l.TrimEnd('\r')).ToList();
        Assert.Contains("rbf", lines[0]);
        Assert.Equal(["OUTPUT", "10", "0", "840"], Assert.Single(lines, l => l.StartsWith("OUTPUT ")).Split(' ', StringSplitOptions.RemoveEmptyEntries));
        // 60,850 − 850 trainable (the dense OUTPUT's), 340,908 connections: the paper's count.
        Assert.Equal(["Total", "60,000", "340,908"], Assert.Single(lines, l => l.StartsWith("Total")).Split(' ', StringSplitOptions.RemoveEmptyEntries));
    }

    [Fact]
    public void Model_file_holds_the_kind_and_the_codes_and_checks_them()
    {
        var model = LeNetModel.CreateRandom(3, Squashing.ScaledTanh, output: OutputLayer.Rbf);
        var bytes = ModelFile.ToBytes(model);
        var loaded = ModelFile.FromBytes(bytes, "rbf.safetensors");
        Assert.Equal(OutputLayer.Rbf, loaded.Output);
        Assert.Equal(model.Parameters, loaded.Parameters);

        var content = SafeTensors.Parse(bytes, "rbf.safetensors");
        Assert.Equal("rbf", content.Metadata[ModelFile.OutputKey]);
        Assert.NotNull(content.Find(ModelFile.RbfCodesName));
        Assert.Null(content.Find("output.weight"));

        // A centre that is not ±1 is refused, naming the tensor and the place.
        var tensors = content.Tensors.Select(t => t.Name == ModelFile.RbfCodesName
            ? new SafeTensor(t.Name, t.Shape, t.Data.Select((v, i) => i == 85 ? 0.5f : v).ToArray())
            : new SafeTensor(t.Name, t.Shape, t.Data)).ToList();
        var bad = SafeTensors.ToBytes(tensors, content.Metadata.ToDictionary());
        var error = Assert.Throws<ModelFormatException>(() => ModelFile.FromBytes(bad, "bad.safetensors"));
        Assert.Contains("rbf.codes", error.Message);
        Assert.Contains("[1, 1]", error.Message);

        // A softmax file is still read as softmax.
        Assert.Equal(OutputLayer.Softmax, ModelFile.FromBytes(ModelFile.ToBytes(LeNetModel.CreateRandom(3)), "s").Output);
    }

    [Fact]
    public void Centres_never_train()
    {
        var mask = ParameterLayout.TrainableMask(OutputLayer.Rbf);
        for (int i = ParameterLayout.OutputWeight.Offset; i < ParameterLayout.OutputBias.End; i++) Assert.Equal(0f, mask[i]);
        Assert.Equal(ParameterLayout.TrainableMask().Sum() - 850, mask.Sum());
    }

    [Fact]
    public void Reference_map_gradient_matches_central_finite_differences()
    {
        var model = LeNetModel.CreateRandom(21, Squashing.ScaledTanh, output: OutputLayer.Rbf);
        var inputs = Inputs(3, seed: 8);
        var labels = new[] { 2, 9, 4 };
        foreach (double j in new[] { 0.0, 10.0 })
        {
            var reference = new ReferenceLeNet(model) { MapJ = j };
            var gradient = reference.Gradient(inputs, labels, out double loss);
            Assert.Equal(reference.Loss(inputs, labels), loss, 10);
            var random = new Random(3);
            const double h = 1e-5;
            foreach (var slice in ParameterLayout.Slices.Where(s => s != ParameterLayout.OutputWeight && s != ParameterLayout.OutputBias))
                for (int t = 0; t < 4; t++)
                {
                    int i = slice.Offset + random.Next(slice.Length);
                    double numeric = reference.CentralDifference(i, inputs, labels, h);
                    Assert.True(Math.Abs(numeric - gradient[i]) <= 1e-6 * Math.Abs(gradient[i]) + 1e-8,
                        $"j {j}, {slice.Name}[{i - slice.Offset}]: analytic {gradient[i]:E6}, numeric {numeric:E6}");
                }
            for (int i = ParameterLayout.OutputWeight.Offset; i < ParameterLayout.OutputBias.End; i++) Assert.Equal(0.0, gradient[i]);
        }
    }

    [Theory]
    [InlineData(3)]   // one by one (fewer than a tile)
    [InlineData(37)]  // whole tiles and a partial one
    public void Cpu_engine_matches_the_reference_forward_loss_and_gradients(int count)
    {
        var model = LeNetModel.CreateRandom(5, Squashing.ScaledTanh, output: OutputLayer.Rbf);
        var inputs = Inputs(count, seed: count);
        var labels = Enumerable.Range(0, count).Select(n => (n * 7) % 10).ToArray();
        const float j = 3f;
        var reference = new ReferenceLeNet(model) { MapJ = j };

        var network = new CpuNetwork(count, threads: 2);
        var images = inputs.SelectMany(x => x.Select(v => (float)v)).ToArray();
        network.Forward(model.Parameters, model.Squashing, images, count, OutputLayer.Rbf);
        var forwards = inputs.Select(reference.Forward).ToList();
        Tolerance.AssertClose("−y", network.Activations(Layer.Output), forwards.SelectMany(f => f.Logits).ToArray());
        Tolerance.AssertClose("probabilities", network.Probabilities, forwards.SelectMany(f => f.Probabilities).ToArray());
        Tolerance.AssertClasses("classes", network.Predictions.ToArray(), forwards.Select(f => f.Logits).ToList());

        var gradient = new float[ParameterLayout.Length];
        network.Backward(model.Parameters, model.Squashing, labels, count, gradient, secondOrder: false, j, out double lossSum, out _);
        var expected = reference.Gradient(inputs, labels, out double loss);
        Assert.Equal(loss, lossSum / count, 3);
        foreach (var slice in ParameterLayout.Slices.Where(s => s != ParameterLayout.OutputWeight && s != ParameterLayout.OutputBias))
            Tolerance.AssertClose(slice.Name, gradient.AsSpan(slice.Offset, slice.Length), expected.AsSpan(slice.Offset, slice.Length), 1e-4, 1e-6);
        Assert.All(gradient.AsSpan(ParameterLayout.OutputWeight.Offset, 850).ToArray(), g => Assert.Equal(0f, g));
    }

    [Fact]
    public void Second_order_mode_gives_a_positive_diagonal_with_the_curvature_of_y_D_at_F6()
    {
        // F6's bias: d²E/da² = f'(a)²·(2 + 4·Σ q_i(1 − q_i)(x − c_i)²) ≥ 2·f'(a)², averaged over the images.
        var model = LeNetModel.CreateRandom(6, Squashing.ScaledTanh, output: OutputLayer.Rbf);
        var inputs = Inputs(20, seed: 2);
        var images = inputs.SelectMany(x => x.Select(v => (float)v)).ToArray();
        var network = new CpuNetwork(20, threads: 1);
        network.Forward(model.Parameters, model.Squashing, images, 20, OutputLayer.Rbf);
        var h = new float[ParameterLayout.Length];
        network.Backward(model.Parameters, model.Squashing, Enumerable.Range(0, 20).Select(n => n % 10).ToArray(), 20, h, secondOrder: true, 10f, out _, out _);
        var reference = new ReferenceLeNet(model);
        for (int k = 0; k < 84; k++)
        {
            double lower = inputs.Average(x => { double d = ReferenceLeNet.SquashDerivative(reference.Forward(x).F6A[k], model.Squashing); return 2 * d * d; });
            Assert.True(h[ParameterLayout.F6Bias.Offset + k] >= lower * (1 - 1e-5), $"F6 unit {k}: h {h[ParameterLayout.F6Bias.Offset + k]} below 2·f'² = {lower}");
        }
        Assert.All(h, v => Assert.True(v >= 0 && float.IsFinite(v)));
    }
}
