using LeNet.Gpu.Cpu;
using LeNet.Gpu.Model;
using LeNet.Gpu.Engine;
using LeNet.Gpu.Ilgpu;
using LeNet.Gpu.Tests.Training;
using Xunit;

namespace LeNet.Gpu.Tests.Cpu;

/// <summary>
/// Per-pattern training steps (batch 1) run within the image, their SDLM update fused into the dense layers, or in 4-lane
/// tiles (<see cref="CpuTrainingBackend.StepWidth"/>): they must give bitwise the weights that the tiled steps of every
/// width give with the whole update, so the choice is one of speed only (and the shipped models trained before it still
/// reproduce). Forty SDLM steps with a Hessian estimate, for both output layers and both kinds of convolutions, at every
/// vector width (512 included: .NET runs it in software where AVX-512 is absent).
/// </summary>
public class PerPatternStepTests
{
    [Theory]
    [InlineData(OutputLayer.Softmax, ConvolutionSquashing.Linear)]
    [InlineData(OutputLayer.Rbf, ConvolutionSquashing.Squashed)]
    public void Steps_in_narrow_tiles_give_the_bits_of_the_widest(OutputLayer output, ConvolutionSquashing convolutions)
    {
        const int n = 40;
        var (images, labels) = TrainerTests.Synthetic(n, seed: 21);
        var options = new TrainingOptions
        {
            BatchSize = 1, Optimizer = OptimizerKind.Sdlm, SdlmMu = 0.2f, SdlmSamples = 16, Initialization = WeightInitialization.Paper,
        };
        var model = LeNetModel.CreateRandom(22, Squashing.ScaledTanh, WeightInitialization.Paper, output, convolutions: convolutions);
        Assert.Equal(CpuVectorWidth.Bits128, CpuTrainingBackend.StepWidth(1));
        Assert.Equal(CpuVectorWidth.Auto, CpuTrainingBackend.StepWidth(2));

        float[] Train(CpuVectorWidth width, bool patternPath = true)
        {
            var backend = new CpuTrainingBackend(model, options, images, labels, n, threads: 2, stepWidth: width) { PatternPath = patternPath };
            backend.SetOrder(Enumerable.Range(0, n).ToArray(), 0);
            backend.EstimateHessian(0, 16);
            for (int i = 0; i < n; i++) backend.TrainBatch(0, i, 1, options.BaseLearningRate, i);
            return backend.Parameters();
        }
        var narrow = Train(CpuVectorWidth.Bits128);
        Assert.NotEqual(model.Parameters, narrow); // it trained
        foreach (var width in new[] { CpuVectorWidth.Bits256, CpuVectorWidth.Bits512 })
            Assert.True(narrow.AsSpan().SequenceEqual(Train(width)), $"{(int)width}-bit tiles gave other weights than 128-bit ones");
        // The steps within the image (the SDLM update fused into the dense layers) against the tiled step and its whole update, bit for bit.
        foreach (var width in CpuTestData.Widths)
        {
            var tiled = Train(width, patternPath: false);
            Assert.True(System.Runtime.InteropServices.MemoryMarshal.AsBytes(narrow.AsSpan()).SequenceEqual(System.Runtime.InteropServices.MemoryMarshal.AsBytes(tiled.AsSpan())),
                $"the tiled steps at {(int)width} bits gave other weights than the steps within the image");
        }
    }
}
