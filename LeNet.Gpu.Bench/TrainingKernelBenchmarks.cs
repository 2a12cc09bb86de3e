using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Filters;
using BenchmarkDotNet.Running;
using LeNet.Gpu.Model;
using LeNet.Gpu.Engine;
using LeNet.Gpu.Ilgpu;

namespace LeNet.Gpu.Bench;

/// <summary>
/// Each launch of a training step timed alone, by device and batch size: the batch gathers (plain and distorted),
/// the twenty steps of the backward pass (<see cref="BackwardPass.Launch"/>, the very launches
/// <see cref="BackwardPass.Run"/> makes), the loss statistics, the three optimizers' updates and SDLM's Hessian
/// accumulation, each followed by a synchronise. Setup trains one step, so every buffer holds what a real step
/// leaves there. The squashing steps scale their gradient buffer in place and the optimizers move the weights, so
/// repeated launches see slowly drifting values; no kernel's work depends on the values. images/s = BatchSize /
/// time per launch (for the optimizers, whose work is per parameter, read the time instead).
/// ILGPU's CPU accelerator runs batch 64 only; GPUs run 256 and 4,096. C1Squash and C3Squash launch only for a model
/// whose convolutions are squashed, so their cases time one (and the others a linear model, the default).
/// </summary>
[MemoryDiagnoser(false)]
[Config(typeof(Cases))]
public class TrainingKernelBenchmarks
{
    /// <summary>What is timed, in the order of a step: the gathers, every one of <see cref="BackwardPass.Steps"/>, then the rest.</summary>
    public static IEnumerable<string> Launches() =>
        ["Gather", "GatherDistorted", .. BackwardPass.Steps.Select(s => s.ToString()), "Statistics", "Sgd", "Adam", "Sdlm", "HessianAccumulate"];

    [ParamsSource(nameof(DeviceKinds))]
    public DeviceKind Device { get; set; }

    [Params(64, 256, 4096)]
    public int BatchSize { get; set; }

    [ParamsSource(nameof(Launches))]
    public string Kernel { get; set; } = "";

    public static IEnumerable<DeviceKind> DeviceKinds() => Devices.Present();

    private LeNetAccelerator accelerator = null!;
    private IlgpuTrainingBackend backend = null!;

    [GlobalSetup]
    public void Setup()
    {
        accelerator = LeNetAccelerator.Create(Device);
        var optimizer = Kernel switch
        {
            "Adam" => OptimizerKind.Adam,
            "Sdlm" or "HessianAccumulate" => OptimizerKind.Sdlm,
            _ => OptimizerKind.Sgd,
        };
        var options = new TrainingOptions { BatchSize = BatchSize, Optimizer = optimizer, Distortion = Distortion.Default };
        var convolutions = BackwardPass.Steps.Any(s => s.ToString() == Kernel && s is { Part: BackwardPart.Squash, Layer: Layer.C1 or Layer.C3 })
            ? ConvolutionSquashing.Squashed : ConvolutionSquashing.Linear;
        backend = new IlgpuTrainingBackend(accelerator, LeNetModel.CreateRandom(1, convolutions: convolutions), options,
            BenchInputs.Images(BatchSize, seed: 3), BenchInputs.Labels(BatchSize), BatchSize);
        backend.SetOrder(Enumerable.Range(0, BatchSize).ToArray(), 0);
        backend.TrainBatch(0, 0, BatchSize, options.BaseLearningRate, 0); // compiles the kernels, fills every buffer
        Time();
    }

    [Benchmark]
    public void Time()
    {
        var k = accelerator.Kernels;
        var s = backend.Stream;
        switch (Kernel)
        {
            case "Gather": backend.Gather(0, 0, BatchSize, distort: false); break;
            case "GatherDistorted": backend.Gather(0, 0, BatchSize, distort: true); break;
            case "Statistics": backend.AccumulateStatistics(BatchSize); break;
            case "Sgd" or "Adam" or "Sdlm": backend.Update(0.001f, 1, BatchSize); break;
            case "HessianAccumulate": backend.AccumulateHessian(1f / 8); break;
            default:
                var step = BackwardPass.Steps.Single(s => s.ToString() == Kernel);
                backend.Backward.Launch(step, k, s, backend.DeviceParameters, backend.Forward, BatchSize);
                break;
        }
        s.Synchronize();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        backend.Dispose();
        accelerator.Dispose();
    }

    /// <summary>Batch 64 on ILGPU's CPU accelerator; 256 and 4,096 on GPUs.</summary>
    private sealed class Cases : ManualConfig
    {
        public Cases() => AddFilter(new SimpleFilter(Runs));

        private static bool Runs(BenchmarkCase c)
        {
            if (CaseFilter.Value(c, nameof(Device)) is not DeviceKind kind || CaseFilter.Value(c, nameof(BatchSize)) is not int batch) return true;
            // Per image: the forward pass's buffers, the backward pass's seven gradient buffers (8,094 floats), the dataset.
            long perImage = (ForwardPass.FloatsPerImage + 8_094 + Architecture.InputLength) * sizeof(float);
            return CaseFilter.BatchRuns(kind, batch, cpuBatch: 64, minGpuBatch: 256, perImage);
        }
    }
}
