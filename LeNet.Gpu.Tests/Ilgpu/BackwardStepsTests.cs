using LeNet.Gpu.Ilgpu;
using LeNet.Gpu.Model;
using Xunit;

namespace LeNet.Gpu.Tests.Ilgpu;

/// <summary>The backward pass's launches, derived from the layer table, against the order written out by hand.</summary>
public sealed class BackwardStepsTests
{
    [Fact]
    public void The_steps_run_from_the_loss_back_to_C1_in_the_benchmarks_names()
    {
        // From the loss back: OUTPUT's loss and its dense steps, then each layer's squashing, parameters and input;
        // C1 has no input step (the input field needs no gradient). TrainingKernelBenchmarks times them by these names.
        string[] expected =
        [
            "Loss", "OutputParameters", "OutputInput",
            "F6Squash", "F6Parameters", "F6Input",
            "C5Squash", "C5Parameters", "C5Input",
            "S4Squash", "S4Parameters", "S4Input",
            "C3Squash", "C3Parameters", "C3Input",
            "S2Squash", "S2Parameters", "S2Input",
            "C1Squash", "C1Parameters",
        ];
        Assert.Equal(expected, BackwardPass.Steps.Select(s => s.ToString()));
        Assert.Equal(new BackwardStep(Layer.Output, BackwardPart.Loss), BackwardPass.Loss);
        Assert.Equal(BackwardPass.Loss, BackwardPass.Steps[0]);
    }
}
