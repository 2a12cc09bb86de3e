using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Filters;
using BenchmarkDotNet.Running;
using LeNet.Gpu.Model;
using LeNet.Gpu.Engine;
using LeNet.Gpu.Ilgpu;

namespace LeNet.Gpu.Bench;

/// <summary>
/// The per-layer and the fused inference path side by side (<see cref="InferencePath"/>), by device batch size:
/// upload of float images, the forward pass, download of probabilities and classes, each call synchronised.
/// <c>BatchesPerCall</c> = 4 sends four device batches in one call, so on the fused path uploads and downloads of
/// one batch can overlap the kernels of the other (two streams, pinned buffers); images/s counts every image.
/// Engine creation, kernel compilation and a first call happen in setup. ILGPU's CPU accelerator, which simulates
/// every GPU thread, runs only batches up to 1,024; a case is left out where its buffers would not fit in half the
/// device's memory.
/// </summary>
[MemoryDiagnoser(false)]
[Config(typeof(FusedInferenceBenchmarks.Cases))]
public class FusedInferenceBenchmarks
{
    [ParamsSource(nameof(DeviceKinds))]
    public DeviceKind Device { get; set; }

    [Params(InferencePath.PerLayer, InferencePath.Fused)]
    public InferencePath Path { get; set; }

    [Params(1, 64, 1024, 16384, 65536)]
    public int BatchSize { get; set; }

    [Params(1, 4)]
    public int BatchesPerCall { get; set; }

    public static IEnumerable<DeviceKind> DeviceKinds() => Devices.Present();

    private IlgpuInferenceEngine engine = null!;
    private float[] images = null!;

    [GlobalSetup]
    public void Setup()
    {
        engine = IlgpuInferenceEngine.Create(BenchModel.Load(), Device, BatchSize, Path);
        images = BenchInputs.Images((long)BatchSize * BatchesPerCall, seed: 2);
        engine.Predict(images); // warm: first launches, pinned buffers touched
    }

    [Benchmark]
    public int Predict() => engine.Predict(images).Classes[0];

    [GlobalCleanup]
    public void Cleanup() => engine.Dispose();

    /// <summary>Leaves out the cases a device cannot or need not run (see the class summary).</summary>
    private sealed class Cases : ManualConfig
    {
        public Cases() => AddFilter(new SimpleFilter(Runs));

        private static bool Runs(BenchmarkCase c)
        {
            if (CaseFilter.Value(c, nameof(Device)) is not DeviceKind kind || CaseFilter.Value(c, nameof(BatchSize)) is not int batch) return true;
            long perImage = (ForwardPass.FloatsPerImage + Architecture.InputLength) * sizeof(float) + InputField.MnistLength
                + 2 * FusedForwardPass.BytesPerImage;
            return CaseFilter.BatchRuns(kind, batch, cpuBatch: 1024, minGpuBatch: 1, perImage, cpuUpTo: true);
        }
    }
}
