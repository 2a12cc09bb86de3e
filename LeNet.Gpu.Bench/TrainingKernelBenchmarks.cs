using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Filters;
using BenchmarkDotNet.Running;
using LeNet.Gpu.Model;
using LeNet.Gpu.Runtime;

namespace LeNet.Gpu.Bench;

/// <summary>
/// Each launch of a training step timed alone, by device and batch size: the batch gathers (plain and distorted),
/// the eighteen launches of the backward pass (<see cref="BackwardPass.Launch"/>, the very launches
/// <see cref="BackwardPass.Run"/> makes), the loss statistics, the three optimizers' updates and SDLM's Hessian
/// accumulation, each followed by a synchronise. Setup trains one step, so every buffer holds what a real step
/// leaves there. The squashing steps scale their gradient buffer in place and the optimizers move the weights, so
/// repeated launches see slowly drifting values; no kernel's work depends on the values. images/s = BatchSize /
/// time per launch (for the optimizers, whose work is per parameter, read the time instead).
/// ILGPU's CPU accelerator runs batch 64 only; GPUs run 256 and 4,096.
/// </summary>
[MemoryDiagnoser(false)]
[Config(typeof(Cases))]
public class TrainingKernelBenchmarks
{
    /// <summary>What is timed: a backward-pass step, or one of the other launches of a training step.</summary>
    public enum Launch
    {
        Gather, GatherDistorted,
        Loss, OutputParameters, OutputInput, F6Squash, F6Parameters, F6Input, C5Squash, C5Parameters, C5Input,
        S4Squash, S4Parameters, S4Input, C3Parameters, C3Input, S2Squash, S2Parameters, S2Input, C1Parameters,
        Statistics, Sgd, Adam, Sdlm, HessianAccumulate,
    }

    [ParamsSource(nameof(DeviceKinds))]
    public DeviceKind Device { get; set; }

    [Params(64, 256, 4096)]
    public int BatchSize { get; set; }

    [ParamsAllValues]
    public Launch Kernel { get; set; }

    public static IEnumerable<DeviceKind> DeviceKinds() => Devices.Present();

    private LeNetAccelerator accelerator = null!;
    private IlgpuTrainingBackend backend = null!;

    [GlobalSetup]
    public void Setup()
    {
        accelerator = LeNetAccelerator.Create(Device);
        var random = new Random(3);
        var images = new float[BatchSize * Architecture.InputLength];
        for (int i = 0; i < images.Length; i++) images[i] = (float)(random.NextDouble() * 1.275 - 0.1);
        var labels = Enumerable.Range(0, BatchSize).Select(i => i % 10).ToArray();
        var optimizer = Kernel switch
        {
            Launch.Adam => OptimizerKind.Adam,
            Launch.Sdlm or Launch.HessianAccumulate => OptimizerKind.Sdlm,
            _ => OptimizerKind.Sgd,
        };
        var options = new TrainingOptions { BatchSize = BatchSize, Optimizer = optimizer, Distortion = Distortion.Default };
        backend = new IlgpuTrainingBackend(accelerator, LeNetModel.CreateRandom(1), options, images, labels, BatchSize);
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
            case Launch.Gather: backend.Gather(0, 0, BatchSize, distort: false); break;
            case Launch.GatherDistorted: backend.Gather(0, 0, BatchSize, distort: true); break;
            case Launch.Statistics: backend.AccumulateStatistics(BatchSize); break;
            case Launch.Sgd or Launch.Adam or Launch.Sdlm: backend.Update(0.001f, 1); break;
            case Launch.HessianAccumulate: backend.AccumulateHessian(1f / 8); break;
            default:
                var step = Enum.Parse<BackwardPass.Step>(Kernel.ToString());
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
