using LeNet.Gpu.Model;
using LeNet.Gpu.Tests.Reference;
using Xunit;

namespace LeNet.Gpu.Tests.Model;

/// <summary>The model description against the paper's numbers and Table I.</summary>
public sealed class ArchitectureTests
{
    // (layer, output shape, trainable parameters, connections): the paper's table, OUTPUT as a 84→10 softmax layer.
    public static TheoryData<string, string, long, long> PaperLayers => new()
    {
        { "C1", "6@28x28", 156, 122_304 },
        { "S2", "6@14x14", 12, 5_880 },
        { "C3", "16@10x10", 1_516, 151_600 },
        { "S4", "16@5x5", 32, 2_000 },
        { "C5", "120@1x1", 48_120, 48_120 },
        { "F6", "84", 10_164, 10_164 },
        { "OUTPUT", "10", 850, 850 },
    };

    [Theory]
    [MemberData(nameof(PaperLayers))]
    public void LayerCountsEqualThePaper(string name, string shape, long parameters, long connections)
    {
        var layer = Assert.Single(Architecture.Layers, l => l.Name == name);
        Assert.Equal(shape, layer.OutputShape);
        Assert.Equal(parameters, layer.TrainableParameters);
        Assert.Equal(connections, layer.Connections);
    }

    [Fact]
    public void TotalsEqualThePaper()
    {
        Assert.Equal(["INPUT", "C1", "S2", "C3", "S4", "C5", "F6", "OUTPUT"], Architecture.Layers.Select(l => l.Name));
        Assert.Equal(60_850, Architecture.TotalTrainableParameters);
        // The paper's 340,908 connections include an 84→10 RBF output (840); a softmax layer with biases has 850.
        Assert.Equal(340_908 - 840 + 850, Architecture.TotalConnections);
        Assert.Equal(0, Architecture.Layers[0].TrainableParameters);
        Assert.Equal("1@32x32", Architecture.Layers[0].OutputShape);
    }

    [Theory]
    [InlineData(Squashing.ScaledTanh, "scaled-tanh")]
    [InlineData(Squashing.Sigmoid, "sigmoid")]
    public void SummaryShowsEveryLayersNumbers(Squashing squashing, string name)
    {
        var lines = Architecture.Summary(squashing).Split('\n').Select(l => l.TrimEnd('\r')).ToList();
        Assert.Contains(name, lines[0]);
        foreach (var row in PaperLayers)
        {
            string layer = (string)row[0], shape = (string)row[1];
            long parameters = (long)row[2], connections = (long)row[3];
            var line = Assert.Single(lines, l => l.StartsWith(layer + " "));
            var fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            Assert.Equal([layer, shape, parameters.ToString("N0"), connections.ToString("N0")], fields);
        }
        var total = Assert.Single(lines, l => l.StartsWith("Total"));
        Assert.Equal(["Total", "60,850", "340,918"], total.Split(' ', StringSplitOptions.RemoveEmptyEntries));
    }

    [Fact]
    public void ConnectionTableIsTableOfThePaper()
    {
        for (int o = 0; o < 16; o++)
        {
            Assert.Equal(ReferenceLeNet.C3Inputs[o].Order(), ConnectionTable.InputsOf(o));
            for (int i = 0; i < 6; i++)
                Assert.Equal(ReferenceLeNet.C3Connected(o, i), ConnectionTable.IsConnected(o, i));
        }
        var mask = ConnectionTable.ToMask();
        Assert.Equal(96, mask.Length);
        for (int o = 0; o < 16; o++)
            for (int i = 0; i < 6; i++)
                Assert.Equal(ReferenceLeNet.C3Connected(o, i) ? 1 : 0, mask[o * 6 + i]);
        Assert.Equal(60, mask.Sum());
    }

    [Fact]
    public void MultiplyAddsPerImageAreThoseOfTheShapesAndTableI()
    {
        // Counted here from the shapes and the reference's Table I, independently of the layer table's connections.
        long c3Pairs = Enumerable.Range(0, 16).Sum(o => ReferenceLeNet.C3Inputs[o].Length);
        long c1 = 6 * 25 * 28 * 28, c3 = c3Pairs * 25 * 10 * 10, c5 = 120 * 16 * 25, f6 = 84 * 120, output = 10 * 84;
        Assert.Equal(117_600 + 150_000 + 48_000 + 10_080 + 840, c1 + c3 + c5 + f6 + output);
        Assert.Equal(c1 + c3 + c5 + f6 + output, MultiplyAdds.Forward);
        Assert.Equal(c3 + c5 + f6 + output, MultiplyAdds.InputGradients);
        Assert.Equal(MultiplyAdds.Forward, MultiplyAdds.WeightGradients);
        Assert.Equal(861_960, MultiplyAdds.Training);
        Assert.Equal(0, MultiplyAdds.Of(Architecture.Of(Layer.S2)));
    }

    [Fact]
    public void TheReferenceTableFollowsTheSeedsDescription()
    {
        // Seed: maps 0–5 take 3 neighbouring S2 maps, 6–11 four neighbouring, 12–14 four non-neighbouring, 15 all.
        for (int o = 0; o < 6; o++)
            Assert.Equal(Enumerable.Range(o, 3).Select(i => i % 6).Order(), ReferenceLeNet.C3Inputs[o].Order());
        for (int o = 6; o < 12; o++)
            Assert.Equal(Enumerable.Range(o - 6, 4).Select(i => i % 6).Order(), ReferenceLeNet.C3Inputs[o].Order());
        for (int o = 12; o < 15; o++)
        {
            var inputs = ReferenceLeNet.C3Inputs[o].Order().ToArray();
            Assert.Equal(4, inputs.Length);
            bool cyclicRun = Enumerable.Range(0, 6).Any(s => Enumerable.Range(s, 4).Select(i => i % 6).Order().SequenceEqual(inputs));
            Assert.False(cyclicRun, $"C3 map {o} takes neighbouring maps");
        }
        Assert.Equal(Enumerable.Range(0, 6), ReferenceLeNet.C3Inputs[15].Order());
    }
}

/// <summary>The flat parameter buffer: slice order, shapes, the trainable mask and the paper's initialisation.</summary>
public sealed class ParameterLayoutTests
{
    [Fact]
    public void SlicesAreContiguousInTheDocumentedOrder()
    {
        (string Name, int[] Shape)[] expected =
        [
            ("c1.weight", [6, 1, 5, 5]), ("c1.bias", [6]), ("s2.coefficient", [6]), ("s2.bias", [6]),
            ("c3.weight", [16, 6, 5, 5]), ("c3.bias", [16]), ("s4.coefficient", [16]), ("s4.bias", [16]),
            ("c5.weight", [120, 16, 5, 5]), ("c5.bias", [120]), ("f6.weight", [84, 120]), ("f6.bias", [84]),
            ("output.weight", [10, 84]), ("output.bias", [10]),
        ];
        Assert.Equal(expected.Select(e => e.Name), ParameterLayout.Slices.Select(s => s.Name));
        int offset = 0;
        foreach (var (slice, (name, shape)) in ParameterLayout.Slices.Zip(expected))
        {
            Assert.Equal(shape, slice.Shape);
            Assert.Equal(offset, slice.Offset);
            Assert.Equal(shape.Aggregate(1, (a, b) => a * b), slice.Length);
            Assert.Same(slice, ParameterLayout.Get(name));
            offset = slice.End;
        }
        Assert.Equal(61_750, ParameterLayout.Length);
        Assert.Equal(offset, ParameterLayout.Length);
        var e = Assert.Throws<ArgumentException>(() => ParameterLayout.Get("c2.weight"));
        Assert.Contains("c2.weight", e.Message);
    }

    [Fact]
    public void TrainableMaskZerosExactlyTheMaskedC3Weights()
    {
        var mask = ParameterLayout.TrainableMask();
        Assert.Equal(ParameterLayout.Length, mask.Length);
        int c3 = ParameterLayout.C3Weight.Offset;
        for (int i = 0; i < mask.Length; i++)
        {
            bool masked = i >= c3 && i < ParameterLayout.C3Weight.End && !ReferenceLeNet.C3Connected((i - c3) / 150, (i - c3) / 25 % 6);
            Assert.True(mask[i] == (masked ? 0f : 1f), $"mask[{i}] = {mask[i]}");
        }
        Assert.Equal(900, mask.Count(m => m == 0));
        Assert.Equal(60_850, mask.Sum());
        Assert.Equal(Architecture.TotalTrainableParameters, (long)mask.Sum());
    }

    [Fact]
    public void FanInsAreThoseOfThePaper()
    {
        int Of(ParameterSlice s, int element) => ParameterLayout.FanInOf(s.Offset + element);
        Assert.Equal(25, Of(ParameterLayout.C1Weight, 149));
        Assert.Equal(25, Of(ParameterLayout.C1Bias, 0));
        Assert.Equal(4, Of(ParameterLayout.S2Coefficient, 5));
        Assert.Equal(4, Of(ParameterLayout.S4Bias, 15));
        for (int o = 0; o < 16; o++)
        {
            int expected = ReferenceLeNet.C3Inputs[o].Length * 25;
            Assert.Equal(expected, Of(ParameterLayout.C3Weight, o * 150));
            Assert.Equal(expected, Of(ParameterLayout.C3Weight, o * 150 + 149));
            Assert.Equal(expected, Of(ParameterLayout.C3Bias, o));
        }
        Assert.Equal(400, Of(ParameterLayout.C5Weight, 47_999));
        Assert.Equal(400, Of(ParameterLayout.C5Bias, 119));
        Assert.Equal(120, Of(ParameterLayout.F6Weight, 0));
        Assert.Equal(84, Of(ParameterLayout.OutputWeight, 839));
        Assert.Equal(84, Of(ParameterLayout.OutputBias, 9));
    }
}

public sealed class LeNetModelTests
{
    /// <summary>The paper's F_in for flat index i, from the shapes and the reference's Table I (not the library's FanInOf).</summary>
    private static int FanIn(int i)
    {
        var s = ParameterLayout.Slices.Single(s => i >= s.Offset && i < s.End);
        int k = i - s.Offset;
        return s.Name switch
        {
            "c1.weight" or "c1.bias" => 25,
            "s2.coefficient" or "s2.bias" or "s4.coefficient" or "s4.bias" => 4,
            "c3.weight" => ReferenceLeNet.C3Inputs[k / 150].Length * 25,
            "c3.bias" => ReferenceLeNet.C3Inputs[k].Length * 25,
            "c5.weight" or "c5.bias" => 400,
            "f6.weight" or "f6.bias" => 120,
            _ => 84,
        };
    }

    [Theory]
    [InlineData(1, Squashing.ScaledTanh)]
    [InlineData(2, Squashing.Sigmoid)]
    public void CreateRandomFollowsThePaper(int seed, Squashing squashing)
    {
        var model = LeNetModel.CreateRandom(seed, squashing);
        Assert.Equal(squashing, model.Squashing);
        Assert.Equal(ParameterLayout.Length, model.Parameters.Length);
        var mask = ParameterLayout.TrainableMask();
        double ratioSum = 0, ratioMax = 0;
        for (int i = 0; i < model.Parameters.Length; i++)
        {
            float v = model.Parameters[i];
            if (mask[i] == 0) { Assert.True(v == 0f, $"masked C3 weight {i} = {v}"); continue; }
            // Uniform in ±2.4/F_in; 1e-6 relative slack for the float rounding of the limit.
            double ratio = Math.Abs(v) / (2.4 / FanIn(i));
            Assert.True(ratio <= 1 + 1e-6, $"parameter {i} = {v} outside ±2.4/{FanIn(i)}");
            ratioSum += ratio;
            ratioMax = Math.Max(ratioMax, ratio);
        }
        // Not degenerate: 60,850 uniform draws have mean |u| = 0.5 (σ ≈ 0.0012) and reach the ends.
        Assert.InRange(ratioSum / 60_850, 0.48, 0.52);
        Assert.True(ratioMax > 0.999, $"largest |w|/limit only {ratioMax}");
        // Every slice is filled (none left at zero).
        foreach (var slice in ParameterLayout.Slices)
            Assert.True(model.Tensor(slice).ToArray().Count(v => v != 0) >= slice.Length * (slice == ParameterLayout.C3Weight ? 0.5 : 0.9), slice.Name);
    }

    [Fact]
    public void CreateRandomIsDeterministicPerSeed()
    {
        Assert.Equal(LeNetModel.CreateRandom(5).Parameters, LeNetModel.CreateRandom(5).Parameters);
        Assert.NotEqual(LeNetModel.CreateRandom(5).Parameters, LeNetModel.CreateRandom(6).Parameters);
    }

    [Fact]
    public void ConstructorValidatesItsArguments()
    {
        var e = Assert.Throws<ArgumentException>(() => new LeNetModel(Squashing.ScaledTanh, new float[10]));
        Assert.Contains("10", e.Message);
        Assert.Contains("61750", e.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => new LeNetModel((Squashing)0, new float[ParameterLayout.Length]));
    }

    [Fact]
    public void CloneIsIndependent()
    {
        var model = LeNetModel.CreateRandom(3, Squashing.Sigmoid);
        model.Metadata["seed"] = "3";
        var copy = model.Clone();
        Assert.Equal(model.Parameters, copy.Parameters);
        Assert.Equal(Squashing.Sigmoid, copy.Squashing);
        Assert.Equal("3", copy.Metadata["seed"]);
        copy.Parameters[0] += 1;
        copy.Metadata["seed"] = "x";
        Assert.NotEqual(model.Parameters[0], copy.Parameters[0]);
        Assert.Equal("3", model.Metadata["seed"]);
    }

    [Fact]
    public void TensorViewsTheFlatBuffer()
    {
        var model = LeNetModel.CreateRandom(4);
        model.Tensor(ParameterLayout.F6Bias)[3] = 42f;
        Assert.Equal(42f, model.Parameters[ParameterLayout.F6Bias.Offset + 3]);
        Assert.Equal(ParameterLayout.C5Weight.Length, model.Tensor(ParameterLayout.C5Weight).Length);
    }

    [Theory]
    [InlineData("scaled-tanh", Squashing.ScaledTanh)]
    [InlineData("tanh", Squashing.ScaledTanh)]
    [InlineData("Sigmoid", Squashing.Sigmoid)]
    [InlineData("logistic", Squashing.Sigmoid)]
    public void SquashingNamesParse(string name, Squashing expected)
    {
        Assert.Equal(expected, SquashingExtensions.ParseSquashing(name));
        Assert.Equal(expected, SquashingExtensions.ParseSquashing(expected.ToName()));
    }

    [Fact]
    public void SquashingCodesAreTheKernelContract()
    {
        // Kernels receive these integers: 0 identity, 1 scaled tanh, 2 sigmoid.
        Assert.Equal(0, (int)Activation.Identity);
        Assert.Equal(1, (int)Squashing.ScaledTanh.ToActivation());
        Assert.Equal(2, (int)Squashing.Sigmoid.ToActivation());
        var e = Assert.Throws<ArgumentException>(() => SquashingExtensions.ParseSquashing("relu"));
        Assert.Contains("'relu'", e.Message);
    }
}
