using BenchmarkDotNet.Attributes;
using LeNet.Gpu.Model;
using LeNet.Gpu.Engine;
using LeNet.Gpu.Ilgpu;

namespace LeNet.Gpu.Bench;

/// <summary>
/// End-to-end batch inference: upload of float images, every layer, download of probabilities and classes.
/// Context, allocation, weights upload and kernel compilation happen in setup; each call ends synchronised.
/// </summary>
[MemoryDiagnoser(false)]
public class InferenceBenchmarks
{
    [ParamsSource(nameof(DeviceKinds))]
    public DeviceKind Device { get; set; }

    [Params(1, 64, 1024)]
    public int BatchSize { get; set; }

    public static IEnumerable<DeviceKind> DeviceKinds() => Devices.Present();

    private IlgpuInferenceEngine engine = null!;
    private float[] images = null!;

    [GlobalSetup]
    public void Setup()
    {
        engine = IlgpuInferenceEngine.Create(BenchModel.Load(), Device, BatchSize);
        images = BenchInputs.Images(BatchSize, seed: 2);
        engine.Predict(images); // warm: first launches
    }

    [Benchmark]
    public int Predict() => engine.Predict(images).Classes[0];

    [GlobalCleanup]
    public void Cleanup() => engine.Dispose();
}
