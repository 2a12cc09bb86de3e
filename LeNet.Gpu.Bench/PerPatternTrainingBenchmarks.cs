using BenchmarkDotNet.Attributes;
using LeNet.Gpu.Model;
using LeNet.Gpu.Engine;
using LeNet.Gpu.Ilgpu;

namespace LeNet.Gpu.Bench;

/// <summary>
/// The paper's way of training: SDLM with an update after every pattern (batch 1) on the CPU engine, through the
/// trainer as <c>lenet train --recipe paper</c> runs it (gather, forward, backward, SDLM step), for both output
/// layers, with C1 and C3 linear or squashed (the recipe's). images/s = 1 / time per step.
/// </summary>
public class PerPatternTrainingBenchmarks
{
    [Params(OutputLayer.Softmax, OutputLayer.Rbf)]
    public OutputLayer Output { get; set; }

    [Params(ConvolutionSquashing.Linear, ConvolutionSquashing.Squashed)]
    public ConvolutionSquashing Convolutions { get; set; }

    [Params(1)]
    public int BatchSize { get; set; }

    private Trainer trainer = null!;

    [GlobalSetup]
    public void Setup()
    {
        const int images = 512;
        var options = new TrainingOptions { BatchSize = BatchSize, Optimizer = OptimizerKind.Sdlm, SdlmMu = 0.2f, SdlmSamples = 64 };
        trainer = Engines.CreateCpuTrainer(LeNetModel.CreateRandom(1, Squashing.ScaledTanh, output: Output, convolutions: Convolutions), options,
            BenchInputs.Images(images, seed: 3), BenchInputs.Labels(images));
        trainer.StepOnce(); // estimates the Hessian, warms every buffer
    }

    [Benchmark]
    public void TrainPattern() => trainer.StepOnce();

    [GlobalCleanup]
    public void Cleanup() => trainer.Dispose();
}
