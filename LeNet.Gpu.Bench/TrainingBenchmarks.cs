using BenchmarkDotNet.Attributes;
using LeNet.Gpu.Model;
using LeNet.Gpu.Engine;
using LeNet.Gpu.Ilgpu;

namespace LeNet.Gpu.Bench;

/// <summary>
/// One training step (gather, forward, loss, backward, SGD update) on a device-resident batch, by batch size.
/// images/s = BatchSize / time per step.
/// </summary>
public class TrainingBenchmarks
{
    [ParamsSource(nameof(DeviceKinds))]
    public DeviceKind Device { get; set; }

    [Params(16, 64, 256)]
    public int BatchSize { get; set; }

    public static IEnumerable<DeviceKind> DeviceKinds() => Devices.Present();

    private LeNetAccelerator accelerator = null!;
    private Trainer trainer = null!;

    [GlobalSetup]
    public void Setup()
    {
        accelerator = LeNetAccelerator.Create(Device);
        trainer = Engines.CreateTrainer(accelerator, LeNetModel.CreateRandom(1), new TrainingOptions { BatchSize = BatchSize },
            BenchInputs.Images(BatchSize, seed: 3), BenchInputs.Labels(BatchSize));
        trainer.StepOnce();
    }

    [Benchmark]
    public void TrainStep() => trainer.StepOnce();

    [GlobalCleanup]
    public void Cleanup()
    {
        trainer.Dispose();
        accelerator.Dispose();
    }
}
