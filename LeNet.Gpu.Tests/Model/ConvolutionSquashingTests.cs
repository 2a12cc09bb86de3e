using LeNet.Gpu.Model;
using LeNet.Gpu.Tests.Reference;
using Xunit;

namespace LeNet.Gpu.Tests.Model;

/// <summary>
/// The model's choice of linear or squashed C1 and C3 (<see cref="ConvolutionSquashing"/>): linear by default, the
/// same random draw either way, carried by every copy of a model, and its names and activation codes.
/// </summary>
public sealed class ConvolutionSquashingTests
{
    [Theory]
    [InlineData(WeightInitialization.Paper, OutputLayer.Softmax)]
    [InlineData(WeightInitialization.UnitVariance, OutputLayer.Rbf)]
    [InlineData(WeightInitialization.InputScaled, OutputLayer.Softmax)]
    public void CreateRandom_draws_the_same_parameters_whatever_the_convolutions(WeightInitialization initialization, OutputLayer output)
    {
        var linear = LeNetModel.CreateRandom(9, Squashing.Sigmoid, initialization, output, inputRms: 0.6);
        var squashed = LeNetModel.CreateRandom(9, Squashing.Sigmoid, initialization, output, inputRms: 0.6, ConvolutionSquashing.Squashed);
        Assert.Equal(ConvolutionSquashing.Linear, linear.Convolutions); // the default
        Assert.Equal(ConvolutionSquashing.Squashed, squashed.Convolutions);
        Assert.Equal(output, squashed.Output);
        Assert.Equal(Squashing.Sigmoid, squashed.Squashing);
        Assert.True(linear.Parameters.AsSpan().SequenceEqual(squashed.Parameters), "the choice changed the draw");
        Assert.Equal(ConvolutionSquashing.Linear, new LeNetModel(Squashing.ScaledTanh, new float[ParameterLayout.Length]).Convolutions);
    }

    [Fact]
    public void Clone_keeps_the_convolutions_and_the_rest()
    {
        foreach (var convolutions in new[] { ConvolutionSquashing.Linear, ConvolutionSquashing.Squashed })
        {
            var model = LeNetModel.CreateRandom(3, Squashing.Sigmoid, output: OutputLayer.Rbf, convolutions: convolutions);
            model.Metadata["seed"] = "3";
            var copy = model.Clone();
            Assert.Equal(convolutions, copy.Convolutions);
            Assert.Equal(OutputLayer.Rbf, copy.Output);
            Assert.Equal(Squashing.Sigmoid, copy.Squashing);
            Assert.Equal(model.Parameters, copy.Parameters);
            Assert.Equal("3", copy.Metadata["seed"]);
        }
    }

    [Fact]
    public void The_softmax_equivalent_of_a_squashed_rbf_model_keeps_the_convolutions_and_its_probabilities()
    {
        var rbf = LeNetModel.CreateRandom(4, Squashing.ScaledTanh, output: OutputLayer.Rbf, convolutions: ConvolutionSquashing.Squashed);
        rbf.Metadata["dataset"] = "mnist";
        var softmax = rbf.AsSoftmaxEquivalent();
        Assert.Equal(OutputLayer.Softmax, softmax.Output);
        Assert.Equal(ConvolutionSquashing.Squashed, softmax.Convolutions);
        Assert.Equal("mnist", softmax.Metadata["dataset"]);

        // Same probabilities, computed by the float64 reference (which takes the choice from each model); a softmax
        // equivalent that dropped the squashing would be far off.
        var random = new Random(4);
        var input = Enumerable.Range(0, 1024).Select(_ => 3 * random.NextDouble() - 1).ToArray();
        var expected = new ReferenceLeNet(rbf).Forward(input).Probabilities;
        var actual = new ReferenceLeNet(softmax).Forward(input).Probabilities;
        for (int c = 0; c < 10; c++) Assert.Equal(expected[c], actual[c], 10);
        var linear = new ReferenceLeNet(softmax.Parameters, softmax.Squashing).Forward(input).Probabilities;
        Assert.True(Enumerable.Range(0, 10).Max(c => Math.Abs(linear[c] - expected[c])) > 1e-6, "linear and squashed convolutions agree here");

        var alreadySoftmax = LeNetModel.CreateRandom(4, convolutions: ConvolutionSquashing.Squashed);
        Assert.Same(alreadySoftmax, alreadySoftmax.AsSoftmaxEquivalent());
    }

    [Fact]
    public void Names_parse_and_print_and_unknown_ones_are_refused()
    {
        Assert.Equal("linear", ConvolutionSquashing.Linear.ToName());
        Assert.Equal("squashed", ConvolutionSquashing.Squashed.ToName());
        foreach (var c in new[] { ConvolutionSquashing.Linear, ConvolutionSquashing.Squashed })
            Assert.Equal(c, SquashingExtensions.ParseConvolutionSquashing(c.ToName()));
        Assert.Equal(ConvolutionSquashing.Squashed, SquashingExtensions.ParseConvolutionSquashing("Squashed"));
        var e = Assert.Throws<ArgumentException>(() => SquashingExtensions.ParseConvolutionSquashing("tanh"));
        Assert.Contains("'tanh'", e.Message);
        Assert.Contains("linear or squashed", e.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => ((ConvolutionSquashing)7).ToName());
        Assert.Throws<ArgumentOutOfRangeException>(() =>
            new LeNetModel(Squashing.ScaledTanh, new float[ParameterLayout.Length], OutputLayer.Softmax, (ConvolutionSquashing)7));
    }

    [Fact]
    public void The_convolutions_apply_the_identity_or_the_models_squashing()
    {
        Assert.Equal(0, (int)ConvolutionSquashing.Linear); // default(T), the value of every model made before the choice
        foreach (var squashing in new[] { Squashing.ScaledTanh, Squashing.Sigmoid })
        {
            Assert.Equal(Activation.Identity, squashing.ConvolutionActivation(ConvolutionSquashing.Linear));
            Assert.Equal(squashing.ToActivation(), squashing.ConvolutionActivation(ConvolutionSquashing.Squashed));
        }
    }
}
