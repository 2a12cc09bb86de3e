using LeNet.Gpu.Model;
using LeNet.Gpu.Engine;
using LeNet.Gpu.Ilgpu;
using LeNet.Gpu.Serialization;
using Xunit;

namespace LeNet.Gpu.Tests.Serialization;

/// <summary>
/// A shipped model's recorded command trains it under today's defaults: the initialisation it names (or its recipe's,
/// or today's default where it names none) is the one its metadata says it was trained with.
/// </summary>
public sealed class ShippedCommandTests
{
    [Theory]
    [InlineData(ShippedModels.Mnist)]
    [InlineData(ShippedModels.Digits)]
    [InlineData(ShippedModels.Fashion)]
    [InlineData(ShippedModels.Paper)]
    [InlineData(ShippedModels.PaperDistorted)]
    public void The_command_names_the_initialisation_the_model_was_trained_with(string name)
    {
        var metadata = ShippedModels.Load(name).Metadata;
        var words = metadata["command"].Split(' ');
        int at = Array.IndexOf(words, "--init");
        var commanded = at >= 0 ? words[at + 1]
            : words.Contains("--recipe") ? WeightInitialization.Paper.ToName()
            : new TrainingOptions().Initialization.ToName();
        Assert.Equal(metadata["initialization"], commanded);
    }
}
